using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Models.Tests;

public class GenerationTests
{
    public static TheoryData<string> Families => new() { "gpt2", "llama" };

    private static CausalLanguageModel Model(string family) => CausalLanguageModel.Create(family == "gpt2"
        ? ModelConfig.Gpt2(vocab: 50, hidden: 32, layers: 2, heads: 4, maxPositions: 40)
        : ModelConfig.Llama(vocab: 50, hidden: 32, layers: 2, heads: 4, maxPositions: 40, kvHeads: 2) with { QkvBias = true }, seed: 11);

    private static readonly int[][] Prompts = [[5, 7], [1, 2, 3, 4, 5, 6], [9, 8, 7]];

    // Teacher-forced log-probs of each response under a left-padded batch of prompt + response.
    private static float[][] TeacherForced(CausalLanguageModel model, IReadOnlyList<GeneratedSequence> results, float temperature)
    {
        int time = results.Max(r => r.PromptIds.Length + r.Tokens.Length), batch = results.Count, v = model.Config.VocabSize;
        var ids = new int[batch * time];
        var mask = new float[batch * time];
        var targets = new int[batch * time];
        Array.Fill(targets, -100);
        for (int b = 0; b < batch; b++)
        {
            int[] full = [.. results[b].PromptIds, .. results[b].Tokens];
            int pad = time - full.Length;
            full.CopyTo(ids, b * time + pad);
            mask.AsSpan(b * time + pad, full.Length).Fill(1);
            for (int i = 0; i < results[b].Tokens.Length; i++)
                targets[b * time + pad + results[b].PromptIds.Length - 1 + i] = results[b].Tokens[i];
        }
        using var tape = new Tape(recordGradients: false);
        var lp = Ops.TokenLogProbs(Ops.Reshape(model.Logits(ModelInput.Padded(ids, batch, time, mask)), batch * time, v), targets, temperature).ToArray();
        return results.Select((r, b) =>
        {
            int start = b * time + time - r.Tokens.Length - 1;
            return lp.AsSpan(start, r.Tokens.Length).ToArray();
        }).ToArray();
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void CachedLogProbsOfALeftPaddedBatchEqualTeacherForcedOnes(string family)
    {
        var model = Model(family);
        // Truncation and the repetition penalty shape sampling only; the reported log-probs stay untruncated.
        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 0.7f, TopK = 10, TopP = 0.9f, RepetitionPenalty = 1.3f, NumReturnSequences = 2, Seed = 3 };
        var results = Generator.Generate(model, Prompts, options);
        Assert.Equal(6, results.Count);
        var expected = TeacherForced(model, results, 0.7f);
        for (int i = 0; i < results.Count; i++)
        {
            Assert.Equal(12, results[i].Tokens.Length);
            for (int t = 0; t < 12; t++)
                Assert.True(Math.Abs(results[i].LogProbs[t] - expected[i][t]) <= 1e-4,
                    $"sequence {i} token {t}: cached {results[i].LogProbs[t]} vs teacher-forced {expected[i][t]}");
        }
        // The two samples of a prompt share its prefill but draw differently.
        Assert.NotEqual(results[0].Tokens, results[1].Tokens);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void KvCachesInRecycledBuffersIgnoreWhatTheyHeld(string family)
    {
        // The cache takes unzeroed buffers from the pool and gives them back when generation ends: positions are read
        // only after they are written. NaN in every pooled buffer of the caches' sizes would surface in any log-prob
        // that read a position before its write.
        var model = Model(family);
        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 1f, NumReturnSequences = 2, Seed = 5 };
        int maxPrompt = Prompts.Max(p => p.Length), perPosition = model.Config.KvHeads * model.Config.HeadDim;
        foreach (int size in new[] { Prompts.Length * maxPrompt * perPosition, 2 * Prompts.Length * (maxPrompt + 12) * perPosition })
        {
            var held = Enumerable.Range(0, 4 * model.Config.Layers).Select(_ => BufferPool.Rent(size)).ToList();
            foreach (var buffer in held) { Array.Fill(buffer, float.NaN); BufferPool.Return(buffer); }
        }
        var first = Generator.Generate(model, Prompts, options);
        var expected = TeacherForced(model, first, 1f);
        for (int i = 0; i < first.Count; i++)
            for (int t = 0; t < first[i].Tokens.Length; t++)
                Assert.True(Math.Abs(first[i].LogProbs[t] - expected[i][t]) <= 1e-4, $"sequence {i} token {t}: cached {first[i].LogProbs[t]} vs teacher-forced {expected[i][t]}");
        // A second generation reuses the first one's returned caches, full of its keys, and must draw the same.
        var again = Generator.Generate(model, Prompts, options);
        Assert.Equal(first.Select(r => r.Tokens), again.Select(r => r.Tokens));
        Assert.Equal(first.Select(r => r.LogProbs), again.Select(r => r.LogProbs));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void GreedyFollowsTheTeacherForcedArgmax(string family)
    {
        var model = Model(family);
        var results = Generator.Generate(model, Prompts, new SamplingOptions { MaxNewTokens = 8, Temperature = 0 });
        foreach (var r in results)
        {
            int[] seq = [.. r.PromptIds];
            foreach (int token in r.Tokens)
            {
                using var tape = new Tape(recordGradients: false);
                var logits = model.Logits(new ModelInput(seq, 1, seq.Length)).Span[((seq.Length - 1) * 50)..];
                Assert.Equal(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits), token);
                seq = [.. seq, token];
            }
        }
    }

    [Fact]
    public void SameSeedSameSamplesDifferentSeedDifferentSamples()
    {
        var model = Model("llama");
        var options = new SamplingOptions { MaxNewTokens = 10, Temperature = 1.2f, Seed = 42 };
        var a = Generator.Generate(model, Prompts, options);
        var b = Generator.Generate(model, Prompts, options);
        var c = Generator.Generate(model, Prompts, options with { Seed = 43 });
        Assert.Equal(a.Select(r => r.Tokens), b.Select(r => r.Tokens));
        Assert.NotEqual(a.Select(r => r.Tokens), c.Select(r => r.Tokens));
        // A per-prompt seed gives a prompt the same sample whatever else is in the batch.
        var alone = Generator.Generate(model, [Prompts[1]], options with { PromptSeeds = [7] });
        var batched = Generator.Generate(model, Prompts, options with { PromptSeeds = [1, 7, 2] });
        Assert.Equal(alone[0].Tokens, batched[1].Tokens);
    }

    [Fact]
    public void TruncationFiltersThatKeepOneTokenAreGreedy()
    {
        var model = Model("gpt2");
        var greedy = Generator.Generate(model, Prompts, new SamplingOptions { MaxNewTokens = 6, Temperature = 0 });
        foreach (var filtered in new[] { new SamplingOptions { TopK = 1 }, new SamplingOptions { TopP = 1e-6f }, new SamplingOptions { MinP = 1f } })
        {
            var sampled = Generator.Generate(model, Prompts, filtered with { MaxNewTokens = 6, Temperature = 1.5f, Seed = 9 });
            Assert.Equal(greedy.Select(r => r.Tokens), sampled.Select(r => r.Tokens));
        }
    }

    [Fact]
    public void StrongRepetitionPenaltyPreventsRepeats()
    {
        var model = Model("llama");
        var results = Generator.Generate(model, Prompts, new SamplingOptions { MaxNewTokens = 20, Temperature = 0, RepetitionPenalty = 1e6f });
        foreach (var r in results)
        {
            int[] all = [.. r.PromptIds, .. r.Tokens];
            Assert.Equal(all.Length, all.Distinct().Count());
        }
    }

    [Fact]
    public void StopTokensStopStringsAndLengthSetTheFinishReason()
    {
        var model = Model("gpt2");
        var free = Generator.Generate(model, Prompts, new SamplingOptions { MaxNewTokens = 10, Temperature = 0 });
        Assert.All(free, r => Assert.Equal(FinishReason.Length, r.FinishReason));

        int stop = free[1].Tokens[3];
        var stopped = Generator.Generate(model, Prompts, new SamplingOptions { MaxNewTokens = 10, Temperature = 0, StopTokenIds = [stop] });
        int at = Array.IndexOf(free[1].Tokens, stop);
        Assert.Equal(FinishReason.Stop, stopped[1].FinishReason);
        Assert.Equal(free[1].Tokens[..(at + 1)], stopped[1].Tokens);

        static string Decode(int[] ids) => string.Concat(ids.Select(i => (char)('A' + i)));
        string needle = Decode(free[2].Tokens[4..6]);
        var byString = Generator.Generate(model, Prompts, new SamplingOptions { MaxNewTokens = 10, Temperature = 0, StopStrings = [needle] }, Decode);
        Assert.Equal(FinishReason.Stop, byString[2].FinishReason);
        Assert.EndsWith(needle, byString[2].Text);
        Assert.True(byString[2].Tokens.Length <= 6);
    }

    [Fact]
    public async Task TopLogProbsAreTheBestOfTheTeacherForcedDistribution()
    {
        var model = Model("llama");
        var options = new SamplingOptions { MaxNewTokens = 5, Temperature = 0.8f, TopK = 5, Seed = 2, TopLogProbs = 4 };
        var tokens = new List<GeneratedToken>();
        await foreach (var t in Generator.StreamAsync(model, [Prompts[1]], options)) tokens.Add(t);
        int v = model.Config.VocabSize;
        for (int i = 0; i < tokens.Count; i++)
        {
            // The whole next-token distribution at this step, from a forward pass over prompt + tokens so far.
            int[] context = [.. Prompts[1], .. tokens.Take(i).Select(t => t.Token)];
            using var tape = new Tape(recordGradients: false);
            var logits = Ops.Reshape(model.Logits(new ModelInput(context, 1, context.Length)), context.Length, v).ToArray()[((context.Length - 1) * v)..];
            double logZ = Math.Log(logits.Sum(x => Math.Exp(x / 0.8)));
            var expected = Enumerable.Range(0, v).Select(t => (Token: t, LogProb: logits[t] / 0.8 - logZ)).OrderByDescending(p => p.LogProb).Take(4).ToList();
            Assert.Equal(expected.Select(e => e.Token), tokens[i].TopLogProbs.Select(t => t.Token));
            Assert.All(expected.Zip(tokens[i].TopLogProbs), p => Assert.Equal(p.First.LogProb, p.Second.LogProb, 1e-4));
        }
        Assert.Throws<ArgumentException>(() => (options with { TopLogProbs = 21 }).Validate());
    }

    [Fact]
    public async Task StreamingYieldsTheSameTokensAndCancellationStopsPromptly()
    {
        var model = Model("llama");
        var options = new SamplingOptions { MaxNewTokens = 10, Temperature = 1f, Seed = 5 };
        var batch = Generator.Generate(model, Prompts, options);
        var streamed = new List<int>[Prompts.Length];
        for (int i = 0; i < streamed.Length; i++) streamed[i] = [];
        await foreach (var t in Generator.StreamAsync(model, Prompts, options)) streamed[t.PromptIndex].Add(t.Token);
        Assert.Equal(batch.Select(r => r.Tokens), streamed.Select(s => s.ToArray()));

        using var cts = new CancellationTokenSource();
        int count = 0;
        var partial = new List<GeneratedToken>();
        await foreach (var t in Generator.StreamAsync(model, Prompts, options, cancellation: cts.Token))
        {
            partial.Add(t);
            if (++count == 3 * Prompts.Length) cts.Cancel();
        }
        Assert.Contains(partial, t => t.FinishReason == FinishReason.Cancelled);
        Assert.True(partial.Count(t => t.Token >= 0) <= 4 * Prompts.Length);

        var cancelled = Generator.Generate(model, Prompts, options, cancellation: new CancellationToken(canceled: true));
        Assert.All(cancelled, r => { Assert.Equal(FinishReason.Cancelled, r.FinishReason); Assert.Single(r.Tokens); });
    }

    [Fact]
    public void PromptsThatDoNotFitAreRejectedWithTheReason()
    {
        var model = Model("gpt2");
        var ex = Assert.Throws<ArgumentException>(() => Generator.Generate(model, [new int[35]], new SamplingOptions { MaxNewTokens = 10 }));
        Assert.Contains("40 positions", ex.Message);
        Assert.Throws<ArgumentException>(() => Generator.Generate(model, [[99]], new SamplingOptions()));
        Assert.Throws<ArgumentException>(() => Generator.Generate(model, [[1]], new SamplingOptions { TopP = 0 }));
    }

    // Steps a continuous batch until it is empty (at most 200 steps), calling between(step) before each step.
    private static void Drive(ContinuousBatch batch, Action<int>? between = null)
    {
        for (int step = 0; step < 200; step++)
        {
            between?.Invoke(step);
            if (batch.Rows == 0) return;
            batch.Step();
        }
        Assert.Fail("the batch did not drain in 200 steps");
    }

    private static Action<GeneratedToken> Collect(Dictionary<(string, int, int), List<GeneratedToken>> rows, string request, List<string>? finished = null) => token =>
    {
        var key = (request, token.PromptIndex, token.SampleIndex);
        if (!rows.TryGetValue(key, out var list)) rows[key] = list = [];
        list.Add(token);
        if (token.FinishReason is not null) finished?.Add($"{request}/{token.PromptIndex}/{token.SampleIndex}");
    };

    [Theory, MemberData(nameof(Families))]
    public void AContinuousBatchOfOneRequestSamplesWhatTheGeneratorSamples(string family)
    {
        var model = Model(family);
        var options = new SamplingOptions { MaxNewTokens = 9, NumReturnSequences = 2, Seed = 5, StopTokenIds = [3], TopLogProbs = 2 };
        var expected = Generator.Generate(model, Prompts, options);
        using var batch = new ContinuousBatch(model);
        var rows = new Dictionary<(string, int, int), List<GeneratedToken>>();
        batch.Add(Prompts, options, Collect(rows, "a"));
        Drive(batch);
        Assert.Equal(expected.Count, rows.Count);
        foreach (var e in expected)
        {
            var got = rows[("a", e.PromptIndex, e.SampleIndex)];
            Assert.Equal(e.Tokens, got.Select(t => t.Token));
            Assert.Equal(e.FinishReason, got[^1].FinishReason);
            for (int i = 0; i < e.Tokens.Length; i++) Assert.Equal(e.LogProbs[i], got[i].LogProb, 1e-5f);
        }
        Assert.Equal(0, batch.Rows);
    }

    [Theory, MemberData(nameof(Families))]
    public void ARequestJoinsTheRunningBatchAndItsLogProbsAreTheModelsAtItsPositions(string family)
    {
        var model = Model(family);
        using var batch = new ContinuousBatch(model);
        var rows = new Dictionary<(string, int, int), List<GeneratedToken>>();
        var finished = new List<string>();
        var longOptions = new SamplingOptions { MaxNewTokens = 20, Seed = 1 };
        var shortOptions = new SamplingOptions { MaxNewTokens = 3, NumReturnSequences = 2, Seed = 2, Temperature = 0.7f };
        batch.Add([Prompts[0]], longOptions, Collect(rows, "long", finished));
        int rowsAfterJoin = 0;
        Drive(batch, step =>
        {
            // Joins three steps in, with a longer prompt than the running row's, so the running row's cache is shifted under it.
            if (step == 3) batch.Add([Prompts[1]], shortOptions, Collect(rows, "short", finished));
            if (step == 4) rowsAfterJoin = batch.Rows;
        });
        Assert.Equal(3, rowsAfterJoin);
        // The short request joined the running batch and left it before the long one ended.
        Assert.Equal(["short/0/0", "short/0/1", "long/0/0"], finished);
        // Every token's log-prob is the model's at that position, teacher-forced: positions and cache survived the merges.
        var sequences = rows.Select(r => new GeneratedSequence(0, 0, r.Key.Item1 == "long" ? Prompts[0] : Prompts[1], [.. r.Value.Select(t => t.Token)],
            [.. r.Value.Select(t => t.LogProb)], r.Value[^1].FinishReason!.Value)).ToList();
        var forced = TeacherForced(model, [.. sequences.Where(s => s.PromptIds == Prompts[0])], 1f)
            .Concat(TeacherForced(model, [.. sequences.Where(s => s.PromptIds == Prompts[1])], 0.7f)).ToArray();
        var ordered = sequences.Where(s => s.PromptIds == Prompts[0]).Concat(sequences.Where(s => s.PromptIds == Prompts[1])).ToArray();
        for (int i = 0; i < ordered.Length; i++)
            for (int t = 0; t < ordered[i].Tokens.Length; t++) Assert.Equal(forced[i][t], ordered[i].LogProbs[t], 1e-4f);
        // Each request draws with its own seed whatever shares the batch: alone it samples the same tokens.
        var alone = Generator.Generate(model, [Prompts[0]], longOptions)[0];
        Assert.Equal(alone.Tokens, rows[("long", 0, 0)].Select(t => t.Token));
        var shortAlone = Generator.Generate(model, [Prompts[1]], shortOptions);
        Assert.All(shortAlone, s => Assert.Equal(s.Tokens, rows[("short", 0, s.SampleIndex)].Select(t => t.Token)));
    }

    [Theory, MemberData(nameof(Families))]
    public void ABf16KvCacheGeneratesWithinBf16RoundingAndBatchesContinuouslyAsTheGenerator(string family)
    {
        var model = Model(family);
        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 0 };
        var float32 = Generator.Generate(model, Prompts, options);
        model.Bf16KvCache = true;
        var bf16 = Generator.Generate(model, Prompts, options);
        // Keys and values rounded to bf16 (2⁻⁹ relative) move the log-probs a little, not the greedy tokens of this model.
        var deltas = float32.Zip(bf16).SelectMany(p => p.First.LogProbs.Zip(p.Second.LogProbs, (a, b) => Math.Abs(a - b))).ToList();
        Assert.All(float32.Zip(bf16), p => Assert.Equal(p.First.Tokens, p.Second.Tokens));
        Assert.All(deltas, d => Assert.True(d <= 2e-2, $"log-prob moved by {d}"));
        Assert.Contains(deltas, d => d > 0);
        // A continuous batch gathers bf16 rows as it gathers float32 ones: alone, a request samples what the generator does.
        var sampled = new SamplingOptions { MaxNewTokens = 9, NumReturnSequences = 2, Seed = 5 };
        var expected = Generator.Generate(model, Prompts, sampled);
        using var batch = new ContinuousBatch(model);
        var rows = new Dictionary<(string, int, int), List<GeneratedToken>>();
        batch.Add(Prompts, sampled, Collect(rows, "a"));
        Drive(batch);
        foreach (var e in expected)
        {
            var got = rows[("a", e.PromptIndex, e.SampleIndex)];
            Assert.Equal(e.Tokens, got.Select(t => t.Token));
            for (int i = 0; i < e.Tokens.Length; i++) Assert.Equal(e.LogProbs[i], got[i].LogProb, 1e-5f);
        }
    }

    [Fact]
    public void ACancelledRowLeavesAtItsNextStepAndTheOthersGoOn()
    {
        var model = Model("gpt2");
        using var batch = new ContinuousBatch(model);
        using var cancel = new CancellationTokenSource();
        var rows = new Dictionary<(string, int, int), List<GeneratedToken>>();
        batch.Add([Prompts[0]], new SamplingOptions { MaxNewTokens = 10, Seed = 1 }, Collect(rows, "kept"));
        batch.Add([Prompts[2]], new SamplingOptions { MaxNewTokens = 10, Seed = 2 }, Collect(rows, "gone"), cancel.Token);
        Drive(batch, step => { if (step == 2) cancel.Cancel(); });
        Assert.Equal(FinishReason.Cancelled, rows[("gone", 0, 0)][^1].FinishReason);
        Assert.Equal(3, rows[("gone", 0, 0)].Count);   // two tokens, then the cancellation
        Assert.Equal(10, rows[("kept", 0, 0)].Count);
        Assert.Equal(FinishReason.Length, rows[("kept", 0, 0)][^1].FinishReason);
        Assert.Throws<ArgumentException>(() => batch.Add([[99]], new SamplingOptions(), _ => { }));
        Assert.Equal(0, batch.Rows);
    }

    [Theory, MemberData(nameof(Families))]
    public void Int8WeightsGenerateWhatTheDequantisedWeightsGenerate(string family)
    {
        // Sampling with int8 copies (rollout_dtype int8) is generation from the weights s·q: the same greedy tokens, and
        // log-probs that differ only in where the scale is applied (after the float32 sum, not before).
        var model = Model(family);
        var dequantised = model.Clone();
        var conv1d = model.Conv1DWeights();
        foreach (var (p, d) in model.Parameters.Zip(dequantised.Parameters).Where(p => p.First.Rank == 2))
        {
            // Outputs are rows, or columns of GPT-2's Conv1D [in, out] weights.
            bool transposed = conv1d.Contains(p);
            int rows = p.Shape[0], columns = p.Shape[1];
            var w = p.Span.ToArray();
            var q = Reins.Tensors.Kernels.Int8Matrix.Quantize(transposed ? columns : rows, transposed ? rows : columns, (o, row) =>
            {
                for (int i = 0; i < row.Length; i++) row[i] = transposed ? w[i * columns + o] : w[o * columns + i];
            });
            var s = d.Span;
            for (int i = 0; i < s.Length; i++)
                s[i] = transposed ? q.Dequantized(i % columns, i / columns) : q.Dequantized(i / columns, i % columns);
        }
        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 0 };
        var expected = Generator.Generate(dequantised, Prompts, options);
        var exact = Generator.Generate(model, Prompts, options);
        var weightsBefore = model.Parameters.Select(p => p.Span.ToArray()).ToArray();
        model.KeepInt8Weights();
        var int8 = Generator.Generate(model, Prompts, options);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Tokens, int8[i].Tokens);
            for (int t = 0; t < expected[i].LogProbs.Length; t++) Assert.Equal(expected[i].LogProbs[t], int8[i].LogProbs[t], 1e-4f);
        }
        // The copies are read (the log-probs are not float32's), and the float32 weights stay as they were, for training.
        Assert.Contains(Enumerable.Range(0, exact.Count), i => !exact[i].LogProbs.SequenceEqual(int8[i].LogProbs));
        Assert.All(model.Parameters.Zip(weightsBefore), p => Assert.Equal(p.Second, p.First.Span.ToArray()));
        model.DropInt8Weights();
        Assert.Equal(exact.Select(e => e.LogProbs), Generator.Generate(model, Prompts, options).Select(e => e.LogProbs));
    }

    [Theory, MemberData(nameof(Families))]
    public void Bf16WeightsGenerateWhatTheRoundedFloat32WeightsGenerate(string family)
    {
        var model = Model(family);
        var rounded = model.Clone();
        foreach (var p in rounded.Parameters.Where(p => p.Rank == 2))
        {
            var s = p.Span;
            for (int i = 0; i < s.Length; i++) s[i] = Reins.Tensors.Kernels.Bf16.ToFloat(Reins.Tensors.Kernels.Bf16.FromFloat(s[i]));
        }
        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 0 };
        var expected = Generator.Generate(rounded, Prompts, options);
        var weightsBefore = model.Parameters.Select(p => p.Span.ToArray()).ToArray();
        model.KeepBf16Weights();
        var bf16 = Generator.Generate(model, Prompts, options);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Tokens, bf16[i].Tokens);
            for (int t = 0; t < expected[i].LogProbs.Length; t++) Assert.Equal(expected[i].LogProbs[t], bf16[i].LogProbs[t], 1e-4f);
        }
        // The float32 weights stay as they were, for training.
        Assert.All(model.Parameters.Zip(weightsBefore), p => Assert.Equal(p.Second, p.First.Span.ToArray()));
    }
}
