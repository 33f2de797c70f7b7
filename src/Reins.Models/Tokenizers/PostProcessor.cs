namespace Reins.Models.Tokenizers;

/// <summary>tokenizer.json's "post_processor": adds BOS/EOS-style tokens around a sequence when special tokens are requested.</summary>
internal abstract class PostProcessor
{
    public abstract void AddSpecialTokens(List<int> ids);
}

/// <summary>"TemplateProcessing": the "single" template, e.g. [&lt;s&gt;, $A] for Llama-2.</summary>
/// <param name="template">Each item is either the ids of a special token or null for the sequence itself ($A).</param>
internal sealed class TemplatePostProcessor(IReadOnlyList<int[]?> template) : PostProcessor
{
    public override void AddSpecialTokens(List<int> ids)
    {
        var sequence = ids.ToArray();
        ids.Clear();
        foreach (var item in template) ids.AddRange(item ?? sequence);
    }
}

/// <summary>"BertProcessing" and "RobertaProcessing": [cls] $A [sep].</summary>
internal sealed class ClsSepPostProcessor(int cls, int sep) : PostProcessor
{
    public override void AddSpecialTokens(List<int> ids)
    {
        ids.Insert(0, cls);
        ids.Add(sep);
    }
}

internal sealed class SequencePostProcessor(IReadOnlyList<PostProcessor> steps) : PostProcessor
{
    public override void AddSpecialTokens(List<int> ids)
    {
        foreach (var step in steps) step.AddSpecialTokens(ids);
    }
}
