using Reins.Feedback.Batching;
using Reins.Feedback.Datasets;
using Reins.Feedback.Sampling;
using Reins.Feedback.Tokenization;

namespace Reins.Feedback.Tests;

public sealed class PipelineTests : FileWritingTests
{
    [Fact]
    public void FileToDpoBatchAsTheReadmeShowsIt()
    {
        var lines = Enumerable.Range(0, 20).Select(i => $$"""{"prompt": "Q{{i}}:", "chosen": " yes", "rejected": " no{{new string('!', i % 3)}}", "category": "c{{i % 2}}"}""");
        string path = Files.Write("prefs.jsonl", [.. lines, "{broken"]);
        var encoder = new ByteEncoder();

        var data = JsonlDatasetReader.Load<PreferenceExample>(path, new DatasetReadOptions { SkipInvalid = true });
        var tokenizer = new DatasetTokenizer(encoder, new TokenizationOptions { MaxLength = 512, MaxPromptLength = 256, TruncationMode = TruncationMode.KeepEnd });
        var pairs = data.Examples.Select(tokenizer.Preference).OfType<TokenizedPair>().ToArray();
        var split = DatasetSplit<TokenizedPair>.ByFraction(pairs, 0.1, seed: 0);
        var sampler = new DataSampler(split.Train.Count, seed: 0);
        var collator = new BatchCollator(PaddingOptions.For(encoder));
        var batch = collator.Preference(sampler.NextBatch(8).Select(i => split.Train[i]).ToArray());

        Assert.Equal((20, 1), (data.Report.Records, data.Report.SkippedTotal));
        Assert.Equal("c1", data.Examples[3].Extra["category"].GetString());
        Assert.Equal((18, 2), (split.Train.Count, split.Test.Count));
        Assert.Equal((8, 16), (batch.Pairs, batch.Tokens.Rows));
        Assert.Equal(batch.Tokens.Rows * batch.Tokens.Length, batch.Tokens.InputIds.Length);
    }
}
