using System.Diagnostics;
using Reins.Feedback.Batching;
using Reins.Models.Transformers;
using Reins.Alignment.Objectives;
using Reins.Rewards.RewardModels;
using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins bench rm`: reward-model training throughput, as tools/torch_rm_bench.py measures it: a fixed batch of the
/// preset's batch-size pairs of 512-token sequences through a GPT-2-family …ForSequenceClassification model (the
/// preset's width and depth, positions extended to 512), Bradley–Terry loss, backward and AdamW; pairs per second.
/// </summary>
internal static class RewardModelBench
{
    /// <summary>Tokens in each chosen and each rejected sequence.</summary>
    public const int Length = 512;

    public static Dictionary<string, object> Run(ModelPreset preset, int threads, double minSeconds, bool recomputeAttention = false)
    {
        Engine.Threads = threads;
        var config = preset.ToConfig() with { MaxPositions = Math.Max(preset.Context, Length), NumLabels = 1 };
        var model = CausalLanguageModel.Create(config, seed: 0);
        model.RecomputeAttention = recomputeAttention;
        var optimizer = new AdamW(model.Parameters, learningRate: 3e-4f, weightDecay: 0.1f);
        int pairs = preset.Batch, rows = 2 * pairs;
        var rng = new Rng(0);
        var ids = Enumerable.Range(0, rows * Length).Select(_ => rng.NextInt(preset.Vocab)).ToArray();
        var batch = new PreferenceBatch(pairs, new TokenBatch(rows, Length, ids, Enumerable.Repeat(1f, rows * Length).ToArray(), ids));
        float Step()
        {
            float loss;
            using (var tape = new Tape())
            {
                var (chosen, rejected) = RewardModel.PairRewards(model, batch);
                var l = BradleyTerryLoss.Compute(chosen, rejected);
                loss = l.Item();
                optimizer.ZeroGrad();
                tape.Backward(l);
            }
            optimizer.Step();
            return loss;
        }
        float first = Step();
        Step();
        Console.Error.WriteLine($"bench rm {preset.Name}: threads {threads}, {pairs} pairs × 2 × {Length} tokens, warm-up done (loss {first:F3}), timing ≥ {minSeconds} s");
        var sw = Stopwatch.StartNew();
        int steps = 0;
        float last = first;
        while (sw.Elapsed.TotalSeconds < minSeconds || steps < 3) { last = Step(); steps++; }
        double elapsed = sw.Elapsed.TotalSeconds;
        return new Dictionary<string, object>
        {
            ["recompute_attention"] = recomputeAttention, ["bench"] = "rm", ["config"] = preset.Name, ["threads"] = threads, ["params"] = model.ParameterCount, ["pairs"] = pairs, ["length"] = Length,
            ["pairs_per_s"] = Math.Round(pairs * steps / elapsed, 3), ["s_per_step"] = Math.Round(elapsed / steps, 3),
            ["peak_rss_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            ["loss_first"] = Math.Round(first, 4), ["loss_last"] = Math.Round(last, 4), ["steps"] = steps + 2,
        };
    }
}
