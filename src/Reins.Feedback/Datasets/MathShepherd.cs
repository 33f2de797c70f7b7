namespace Reins.Feedback.Datasets;

/// <summary>
/// Math-Shepherd's raw records (Wang et al. 2024): <c>{"input": "problem Step 1: … ки\nStep 2: … ки", "label": "problem
/// Step 1: … +\nStep 2: … -"}</c>. The label text is the input with each step tag replaced by <c>+</c> or <c>-</c>; the
/// problem ends where "Step 1:" begins. Read as the step-wise records TRL's PRM trainer takes.
/// </summary>
internal static class MathShepherd
{
    /// <summary>The tag that ends each step of <c>input</c>.</summary>
    public const string StepTag = "ки";

    public static StepwiseExample Parse(RecordFields f)
    {
        f.Style = DatasetStyle.Standard;
        string input = f.String("input"), label = f.String("label");
        var tags = new List<int>();
        for (int at = input.IndexOf(StepTag, StringComparison.Ordinal); at >= 0; at = input.IndexOf(StepTag, at + StepTag.Length, StringComparison.Ordinal))
            tags.Add(at);
        if (tags.Count == 0) throw f.Error("input", DatasetErrorReason.InvalidValue, $"no step tag \"{StepTag}\"");
        var labels = new bool[tags.Count];
        // The label text must be the input character for character, one +/- standing for each two-character tag.
        if (label.Length != input.Length - tags.Count * (StepTag.Length - 1))
            throw f.Error("label", DatasetErrorReason.InvalidValue, $"has {label.Length} characters; the input with one +/- per tag would have {input.Length - tags.Count * (StepTag.Length - 1)}");
        int i = 0, j = 0, tag = 0;
        while (i < input.Length)
        {
            if (tag < tags.Count && i == tags[tag])
            {
                labels[tag] = label[j] switch
                {
                    '+' => true,
                    '-' => false,
                    var c => throw f.Error("label", DatasetErrorReason.InvalidValue, $"character {j} is '{c}' where step {tag + 1}'s tag is; expected + or -"),
                };
                (i, j, tag) = (i + StepTag.Length, j + 1, tag + 1);
            }
            else if (input[i++] != label[j++])
                throw f.Error("label", DatasetErrorReason.InvalidValue, $"differs from the input at character {j - 1}");
        }
        if (!string.IsNullOrWhiteSpace(input[(tags[^1] + StepTag.Length)..]))
            throw f.Error("input", DatasetErrorReason.InvalidValue, "text after the last step tag has no label");
        string head = input[..tags[0]];
        int first = head.IndexOf("Step 1:", StringComparison.OrdinalIgnoreCase);
        if (first <= 0 || string.IsNullOrWhiteSpace(head[..first]))
            throw f.Error("input", DatasetErrorReason.InvalidValue, "cannot tell the problem from the first step: no \"Step 1:\" after the problem text");
        var steps = new string[tags.Count];
        steps[0] = head[first..].Trim();
        for (int s = 1; s < tags.Count; s++) steps[s] = input[(tags[s - 1] + StepTag.Length)..tags[s]].Trim();
        for (int s = 0; s < steps.Length; s++)
            if (steps[s].Length == 0) throw f.Error("input", DatasetErrorReason.InvalidValue, $"step {s + 1} is empty");
        return new StepwiseExample(head[..first].Trim(), steps, labels);
    }
}
