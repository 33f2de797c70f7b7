using Reins.Feedback.Datasets;

namespace Reins.Feedback.Tokenization;

/// <summary>
/// Turns records into token sequences with loss labels, as TRL's trainers prepare them: BOS and EOS for text, the chat
/// template for conversations, labels −100 on prompts (and, optionally, on non-assistant turns), then truncation
/// (prompt keeps its end, completion its start, the whole sequence the end <see cref="TokenizationOptions.TruncationMode"/>
/// says). Every change is counted in <see cref="Report"/>; a method returns null only for a record it dropped (and counted).
/// Not thread-safe: use one per thread.
/// </summary>
public sealed class DatasetTokenizer
{
    private const int Ignore = TokenizedSequence.IgnoreIndex;
    private readonly ITextEncoder encoder;

    /// <summary>A tokenizer over <paramref name="encoder"/>.</summary>
    public DatasetTokenizer(ITextEncoder encoder, TokenizationOptions? options = null)
    {
        this.encoder = encoder;
        Options = (options ?? new TokenizationOptions()).Validate();
        if (Options.AppendEos && encoder.EosId is null)
            throw new ArgumentException("AppendEos needs an encoder with an EOS id.", nameof(encoder));
    }

    /// <summary>The options in force.</summary>
    public TokenizationOptions Options { get; }

    /// <summary>Counts of truncated, dropped and odd records so far.</summary>
    public TokenizationReport Report { get; } = new();

    /// <summary>
    /// An SFT sequence from a language-modelling record (loss on everything, or on assistant turns) or a prompt–completion
    /// record (loss on the completion, unless <see cref="TokenizationOptions.CompletionOnlyLoss"/> is off).
    /// </summary>
    public TokenizedSequence? Sft(Example example)
    {
        switch (example)
        {
            case LanguageModelingExample document:
                Report.Records++;
                return Document(document.Text);
            case PromptCompletionExample pair:
                return Single(pair.Prompt, pair.Completion, trainPrompt: !Options.CompletionOnlyLoss);
            default:
                // Said of the record and its line, without ArgumentException's "(Parameter …)" tail: it reaches users as one line.
                throw new ArgumentException($"line {example.Line}: SFT takes language-modelling (\"text\" or \"messages\") or prompt-completion records, got {example.GetType().Name}.");
        }
    }

    /// <summary>Prompt+chosen and prompt+rejected, labelled on the completions (the inputs of DPO and pairwise reward models).</summary>
    public TokenizedPair? Preference(PreferenceExample example)
    {
        var prompt = StartRecord(example.Prompt, forGeneration: false);
        if (prompt is null) return null;
        return new TokenizedPair(
            Assemble(Encode(example.Prompt, prompt, example.Chosen, trainPrompt: false)),
            Assemble(Encode(example.Prompt, prompt, example.Rejected, trainPrompt: false)));
    }

    /// <summary>Prompt+completion labelled on the completion, with the KTO label.</summary>
    public TokenizedUnpaired? Unpaired(UnpairedPreferenceExample example) =>
        Single(example.Prompt, example.Completion, trainPrompt: false) is { } sequence ? new TokenizedUnpaired(sequence, example.Label) : null;

    /// <summary>Prompt+response with the attribute values as regression targets.</summary>
    public TokenizedRating? Rating(RatingExample example) =>
        Single(example.Prompt, example.Response, trainPrompt: false) is { } sequence
            ? new TokenizedRating(sequence, example.Attributes, example.Ratings.Select(r => (float)r).ToArray())
            : null;

    /// <summary>
    /// The prompt for generation (conversations end with the assistant header), truncated to keep its end under
    /// <see cref="TokenizationOptions.MaxPromptLength"/>; <see cref="TokenizationOptions.MaxLength"/> does not apply.
    /// </summary>
    public TokenizedPrompt? Prompt(PromptOnlyExample example)
    {
        var prompt = StartRecord(example.Prompt, forGeneration: true);
        return prompt is null ? null : new TokenizedPrompt(KeepPromptEnd(prompt), example);
    }

    /// <summary>
    /// A process-reward-model sequence: the prompt and <paramref name="stepSeparator"/>, then each step followed by the
    /// separator (ProcessBench's layout; TRL's PRM trainer omits the separator after the prompt), each piece encoded on
    /// its own as TRL does. The label of a step's last token (its separator's) is 1 (correct) or 0, every other −100;
    /// with <paramref name="lastStepOnly"/> only the last step keeps its label (TRL's train_on_last_step_only).
    /// </summary>
    public TokenizedSequence? Stepwise(StepwiseExample example, string stepSeparator = "\n", bool lastStepOnly = false)
    {
        var separator = encoder.Encode(stepSeparator);
        if (separator.Length == 0) throw new ArgumentException("The step separator encodes to no token, so a step has nowhere to carry its label.", nameof(stepSeparator));
        var prompt = StartRecord(TextOrConversation.FromText(example.Prompt), forGeneration: false);
        if (prompt is null) return null;
        prompt = [.. prompt, .. separator];
        var ids = new List<int>();
        var labels = new List<int>();
        for (int s = 0; s < example.Steps.Count; s++)
        {
            int[] step = [.. encoder.Encode(example.Steps[s]), .. separator];
            ids.AddRange(step);
            labels.AddRange(Enumerable.Repeat(Ignore, step.Length - 1));
            labels.Add(lastStepOnly && s < example.Steps.Count - 1 ? Ignore : example.Labels[s] ? 1 : 0);
        }
        return Assemble(new Encoded(prompt, Ignored(prompt.Length), [.. ids], [.. labels]));
    }

    /// <summary>A prompt and one completion, encoded but not yet truncated.</summary>
    private readonly record struct Encoded(int[] PromptIds, int[] PromptLabels, int[] CompletionIds, int[] CompletionLabels);

    private TokenizedSequence? Single(TextOrConversation prompt, TextOrConversation completion, bool trainPrompt)
    {
        var rendered = StartRecord(prompt, forGeneration: false);
        return rendered is null ? null : Assemble(Encode(prompt, rendered, completion, trainPrompt));
    }

    private TokenizedSequence Document(TextOrConversation text)
    {
        if (text.Messages is { } messages)
        {
            var (ids, mask) = encoder.EncodeConversation(messages, addGenerationPrompt: false);
            return Finish(ids, Labels(ids, mask, 0, ids.Length));
        }
        var document = WithEos(WithBos(encoder.Encode(text.Text!)));
        return Finish(document, (int[])document.Clone());
    }

    /// <summary>Renders the prompt, counts the record, and applies the long-prompt policy; null when the record is dropped.</summary>
    private int[]? StartRecord(TextOrConversation prompt, bool forGeneration)
    {
        Report.Records++;
        int[] ids = prompt.Messages is { } messages
            ? encoder.EncodeConversation(messages, addGenerationPrompt: true).Ids
            : WithBos(encoder.Encode(prompt.Text!));
        int kept = Math.Min(ids.Length, Options.MaxPromptLength ?? int.MaxValue);
        bool tooLong = ids.Length > kept || (!forGeneration && kept >= (Options.MaxLength ?? int.MaxValue));
        if (tooLong)
        {
            Report.PromptsTooLong++;
            if (Options.DropLongPrompts)
            {
                Report.Dropped++;
                return null;
            }
        }
        if (ids.Length > kept) Report.PromptsTruncated++;
        return ids;
    }

    private Encoded Encode(TextOrConversation prompt, int[] renderedPrompt, TextOrConversation completion, bool trainPrompt)
    {
        if (prompt.IsConversational != completion.IsConversational)
            throw new ArgumentException("A record's prompt and completion must both be text or both be conversations.", nameof(completion));
        if (completion.Messages is { } messages)
        {
            // Chat templates tokenise a turn differently at a conversation's end than mid-way, so the completion is cut
            // from the rendering of the whole conversation rather than rendered alone.
            var (ids, mask) = encoder.EncodeConversation([.. prompt.Messages!, .. messages], addGenerationPrompt: false);
            int boundary = CommonPrefixLength(ids, renderedPrompt);
            if (boundary < renderedPrompt.Length) Report.TemplatePrefixMismatches++;
            var promptLabels = trainPrompt ? Labels(ids, mask, 0, boundary) : Ignored(boundary);
            return new Encoded(ids[..boundary], promptLabels, ids[boundary..], Labels(ids, mask, boundary, ids.Length));
        }
        var completionIds = WithEos(encoder.Encode(completion.Text!));
        return new Encoded(renderedPrompt, trainPrompt ? (int[])renderedPrompt.Clone() : Ignored(renderedPrompt.Length), completionIds, (int[])completionIds.Clone());
    }

    private TokenizedSequence Assemble(Encoded e)
    {
        var prompt = KeepPromptEnd(e.PromptIds);
        var promptLabels = e.PromptLabels[(e.PromptLabels.Length - prompt.Length)..];
        var completion = e.CompletionIds;
        var completionLabels = e.CompletionLabels;
        if (Options.MaxCompletionLength is { } maxCompletion && completion.Length > maxCompletion)
        {
            completion = completion[..maxCompletion];
            completionLabels = completionLabels[..maxCompletion];
            Report.CompletionsTruncated++;
        }
        return Finish([.. prompt, .. completion], [.. promptLabels, .. completionLabels]);
    }

    private int[] KeepPromptEnd(int[] prompt) =>
        Options.MaxPromptLength is { } maxPrompt && prompt.Length > maxPrompt ? prompt[^maxPrompt..] : prompt;

    private TokenizedSequence Finish(int[] ids, int[] labels)
    {
        if (Options.MaxLength is { } max && ids.Length > max)
        {
            var keep = Options.TruncationMode == TruncationMode.KeepStart ? ..max : ^max..;
            ids = ids[keep];
            labels = labels[keep];
            Report.SequencesTruncated++;
        }
        if (Array.TrueForAll(labels, label => label == Ignore)) Report.WithoutLossTokens++;
        return new TokenizedSequence(ids, labels);
    }

    private int[] Labels(int[] ids, bool[] assistantMask, int start, int end)
    {
        var labels = new int[end - start];
        for (int i = start; i < end; i++) labels[i - start] = Options.AssistantOnlyLoss && !assistantMask[i] ? Ignore : ids[i];
        return labels;
    }

    private int[] WithBos(int[] ids) => Options.AddBos && encoder.BosId is { } bos ? [bos, .. ids] : ids;

    private int[] WithEos(int[] ids) =>
        Options.AppendEos && (ids.Length == 0 || ids[^1] != encoder.EosId) ? [.. ids, encoder.EosId!.Value] : ids;

    private static int[] Ignored(int length) => Enumerable.Repeat(Ignore, length).ToArray();

    private static int CommonPrefixLength(int[] a, int[] b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
