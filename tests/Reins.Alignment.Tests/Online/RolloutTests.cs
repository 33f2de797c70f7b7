using Reins.Alignment.Grpo;
using Reins.Alignment.Online;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Tests.Online;

/// <summary>
/// The log-probs stored while sampling (KV cache, left-padded prompts, temperature) are the ones the first training
/// forward computes on the same tokens; otherwise the PPO ratio would not start at 1 and every method would be off-policy.
/// </summary>
public class RolloutTests
{
    public static TheoryData<string> Families => new() { "gpt2", "llama" };

    private static CausalLanguageModel Model(string family) => CausalLanguageModel.Create(family == "gpt2"
        ? ModelConfig.Gpt2(vocab: TinyTask.Vocab, hidden: 32, layers: 2, heads: 4, maxPositions: 32)
        : ModelConfig.Llama(vocab: TinyTask.Vocab, hidden: 32, layers: 2, heads: 4, maxPositions: 32, kvHeads: 2), seed: 5);

    [Theory]
    [MemberData(nameof(Families))]
    public void StoredLogProbsEqualTheFirstTrainingForward(string family)
    {
        var model = Model(family);
        int[][] prompts = [[TinyTask.Bos, 0], [TinyTask.Bos, 1, 2, 3, 4], [TinyTask.Bos, 5, 6]];
        var options = new SamplingOptions { MaxNewTokens = 10, Temperature = 0.7f, NumReturnSequences = 2, StopTokenIds = [TinyTask.Eos], Seed = 2 };
        var rollout = Rollout.FromSamples(Generator.Generate(model, prompts, options), 2, TinyTask.Pad);

        // The layout: prompts left-padded to 5, completions right-padded to the longest; some rows stopped at EOS early.
        Assert.Equal(5, rollout.PromptLength);
        Assert.Contains(rollout.Lengths, l => l < rollout.CompletionLength);
        Assert.Contains(rollout.Finished, f => f);
        int time = rollout.PromptLength + rollout.CompletionLength;
        for (int r = 0; r < rollout.Rows; r++)
        {
            int promptLength = prompts[r / 2].Length, length = rollout.Lengths[r];
            for (int t = 0; t < time; t++)
            {
                bool real = t >= rollout.PromptLength - promptLength && t < rollout.PromptLength + length;
                Assert.Equal(real ? 1f : 0f, rollout.AttentionMask[r * time + t]);
            }
            for (int t = 0; t < rollout.CompletionLength; t++) Assert.Equal(t < length ? 1f : 0f, rollout.CompletionMask[r * rollout.CompletionLength + t]);
            Assert.Equal(rollout.Finished[r], rollout.InputIds[r * time + rollout.PromptLength + length - 1] == TinyTask.Eos);
        }

        // A shuffled micro-batch, as the update draws them, then every row at once.
        foreach (int[] rows in new[] { new[] { 4, 1, 3 }, Enumerable.Range(0, rollout.Rows).ToArray() })
        {
            using var tape = new Tape(recordGradients: false);
            var fresh = rollout.TokenLogProbs(model, rows, 0.7f).LogProbs.ToArray();
            var stored = rollout.Gather(rollout.LogProbs, rows);
            var mask = rollout.Gather(rollout.CompletionMask, rows);
            for (int i = 0; i < fresh.Length; i++)
            {
                if (mask[i] == 0) Assert.Equal(0f, fresh[i]);
                else Assert.True(Math.Abs(fresh[i] - stored[i]) <= 1e-4, $"{family}, entry {i}: stored {stored[i]}, training forward {fresh[i]}");
            }
        }
    }

    [Fact]
    public void TheFirstUpdateOfATrainerStartsOnPolicy()
    {
        // One pass, one mini-batch: the only forward is the first, so the ratio is 1 and nothing is clipped.
        using var scratch = new Scratch();
        var policy = TinyTask.Model();
        var config = new GrpoConfig
        {
            Training = new() { OutputDir = scratch.Dir("run"), MaxSteps = 2, PerDeviceTrainBatchSize = 8, LoggingSteps = 1 },
            Online = new() { Sampling = new() { Temperature = 0.7f, MaxCompletionLength = 6 } },
            Group = new() { NumGenerations = 4 },
        };
        new GrpoTrainer(config, policy, null, TinyTask.Inputs(TinyTask.Reward())).Train();
        foreach (var row in Scratch.Metrics(scratch.Dir("run")))
        {
            Assert.True(Math.Abs(row["val/ratio"]!.GetValue<double>() - 1) <= 1e-4, row.ToJsonString());
            Assert.True(row["policy/approxkl_avg"]!.GetValue<double>() <= 1e-8, row.ToJsonString());
            Assert.Equal(0, row["policy/clipfrac_avg"]!.GetValue<double>());
        }
    }
}
