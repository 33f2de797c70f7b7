using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Reins.Models.Generation;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Distributed;
using Reins.Tensors.Kernels;
using Reins.Tensors.Optim;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins bench …`: one JSON line per measurement on stdout, logs on stderr. Without --threads each benchmark
/// runs at 1 and 2 threads and its last line is the best setting, as the PyTorch anchor reports its best.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure kernels and training throughput (JSON lines on stdout).");

        var threads = CommonOptions.Threads();
        var gemm = new Command("gemm", "GFLOP/s of the packed SGEMM for square n = 256, 512, 1024, 2048.") { threads };
        gemm.SetAction(r => GemmThroughput(r.GetValue(threads)));
        bench.Add(gemm);

        var trainThreads = CommonOptions.Threads();
        var config = new Option<string>("--config") { Description = "tiny, small or gpt2 (as in the PyTorch anchor).", DefaultValueFactory = _ => "small" };
        var seconds = new Option<double>("--seconds") { Description = "Minimum timed duration per measurement.", DefaultValueFactory = _ => 8 };
        var profile = new Option<bool>("--profile") { Description = "Also print a per-op time profile of the timed steps to stderr." };
        var checkpointing = new Option<bool>("--gradient-checkpointing") { Description = "Recompute each block's activations in the backward pass (peak_rss_mb shows what it saves)." };
        var recompute = new Option<bool>("--recompute-attention") { Description = "Recompute attention probabilities in the backward pass instead of keeping them (peak_rss_mb shows what it saves)." };
        var trainBf16 = new Option<bool>("--bf16") { Description = "Store the activations kept for the backward pass as bfloat16 (TRL's bf16; float32 compute and weights)." };
        var train = new Command("train", "Training tokens/s: forward, cross-entropy, backward and AdamW step, as the anchor measures.") { config, trainThreads, seconds, profile, checkpointing, recompute, trainBf16 };
        train.SetAction(r =>
        {
            var preset = ModelPreset.Get(r.GetValue(config)!);
            // Under mpirun each rank is one measurement's process already, on its share of the cores.
            if (r.GetValue(trainThreads) is { } t || World.IsDistributed)
                Train(preset, r.GetValue(trainThreads) ?? Engine.Threads, r.GetValue(seconds), r.GetValue(profile), r.GetValue(checkpointing), r.GetValue(recompute), r.GetValue(trainBf16));
            else EachThreadSettingInChildProcess(r.Tokens.Select(x => x.Value), "train_tokens_per_s");
        });
        bench.Add(train);

        var genThreads = CommonOptions.Threads();
        var genConfig = new Option<string>("--config") { Description = "tiny, small or gpt2 (as in the PyTorch anchor).", DefaultValueFactory = _ => "small" };
        var genSeconds = new Option<double>("--seconds") { Description = "Minimum timed duration per measurement.", DefaultValueFactory = _ => 8 };
        var genBatch = new Option<int?>("--batch") { Description = "Sequences per batch (default: the config's batch, as the anchor; 1 gives single-sequence latency)." };
        var genBf16 = new Option<bool>("--bf16") { Description = "Weight matrices held as bfloat16 only (float32 activations and sums)." };
        var genInt8 = new Option<bool>("--int8") { Description = "Weight matrices read from int8 copies (per-output absmax scales, as rollout_dtype int8 samples; float32 activations and sums)." };
        var genKv = CommonOptions.KvCacheDtype();
        var generate = new Command("generate", "Generation tokens/s: 16-token prompts, min(112, ctx−16) greedy new tokens with a KV cache and per-token log-probs, as the anchor measures.")
            { genConfig, genThreads, genSeconds, genBatch, profile, genBf16, genInt8, genKv };
        generate.SetAction(r =>
        {
            var preset = ModelPreset.Get(r.GetValue(genConfig)!);
            if (r.GetValue(genBf16) && r.GetValue(genInt8)) throw new ArgumentException("--int8: the weights are read either as int8 or as bfloat16 (--bf16), not both.");
            if (r.GetValue(genThreads) is { } t) Generate(preset, t, r.GetValue(genBatch) ?? preset.Batch, r.GetValue(genSeconds), r.GetValue(profile), r.GetValue(genBf16), r.GetValue(genInt8), r.GetValue(genKv) == "bfloat16");
            else EachThreadSettingInChildProcess(r.Tokens.Select(x => x.Value), "generate_tokens_per_s");
        });
        bench.Add(generate);
        var dpoThreads = CommonOptions.Threads();
        var dpoSeconds = new Option<double>("--seconds") { Description = "Minimum timed duration per measurement.", DefaultValueFactory = _ => 8 };
        var dpo = new Command("dpo", "DPO pairs/s on the small preset with 512-token pairs (256 prompt + 256 completion), 4 pairs per step: reference forward, policy forward and backward, AdamW — as tools/torch_dpo_bench.py.")
            { dpoThreads, dpoSeconds };
        dpo.SetAction(r =>
        {
            if (r.GetValue(dpoThreads) is { } t) Dpo(t, r.GetValue(dpoSeconds));
            else EachThreadSettingInChildProcess(r.Tokens.Select(x => x.Value), "pairs_per_s");
        });
        bench.Add(dpo);

        var rmThreads = CommonOptions.Threads();
        var rmConfig = new Option<string>("--config") { Description = "tiny, small or gpt2 (as tools/torch_rm_bench.py).", DefaultValueFactory = _ => "small" };
        var rmSeconds = new Option<double>("--seconds") { Description = "Minimum timed duration per measurement.", DefaultValueFactory = _ => 8 };
        var rmRecompute = new Option<bool>("--recompute-attention") { Description = "Recompute attention probabilities in the backward pass instead of keeping them." };
        var rm = new Command("rm", "Reward-model training pairs/s: batch-size pairs of 512-token sequences, Bradley–Terry loss, backward and AdamW, as tools/torch_rm_bench.py measures.")
            { rmConfig, rmThreads, rmSeconds, rmRecompute };
        rm.SetAction(r =>
        {
            var preset = ModelPreset.Get(r.GetValue(rmConfig)!);
            if (r.GetValue(rmThreads) is { } t) Emit(RewardModelBench.Run(preset, t, r.GetValue(rmSeconds), r.GetValue(rmRecompute)));
            else EachThreadSettingInChildProcess(r.Tokens.Select(x => x.Value), "pairs_per_s");
        });
        bench.Add(rm);

        var ppoThreads = CommonOptions.Threads();
        var ppoConfig = new Option<string>("--config") { Description = "tiny, small or gpt2 (as tools/torch_ppo_bench.py).", DefaultValueFactory = _ => "small" };
        var ppoSteps = new Option<int>("--steps") { Description = "Timed PPO steps (after one warm-up step).", DefaultValueFactory = _ => 3 };
        var ppoLora = new Option<int?>("--lora-r") { Description = "Train LoRA adapters of this rank (alpha 2r, dropout 0.05, PEFT's default targets) on a policy whose frozen base the reference and the critic share, instead of full fine-tuning." };
        var ppoRollout = new Option<string>("--rollout-dtype") { Description = "float32, bfloat16 or int8: rollouts sampled from bf16 or int8 copies of the policy's weights (rollout_dtype).", DefaultValueFactory = _ => "float32" };
        ppoRollout.AcceptOnlyFromAmong("float32", "bfloat16", "int8");
        var ppoCheckpointing = new Option<bool>("--gradient-checkpointing") { Description = "Policy and critic recompute each block's activations in the backward pass." };
        var ppoRecompute = new Option<bool>("--recompute-attention") { Description = "Policy and critic recompute attention probabilities in the backward pass." };
        var ppoBf16 = new Option<bool>("--bf16") { Description = "bf16 (TRL's flag): activations kept for the backward pass stored as bfloat16; the reference, the reward model and a LoRA base held as bfloat16 only." };
        var ppo = new Command("ppo", "One PPO step (8 prompts × 64 tokens, 64 sampled tokens, reward model, reference, critic, one update): rollout and training tokens/s, each phase's share and the peak RSS, as tools/torch_ppo_bench.py.")
            { ppoConfig, ppoThreads, ppoSteps, profile, ppoLora, ppoRollout, ppoCheckpointing, ppoRecompute, ppoBf16 };
        ppo.SetAction(r =>
        {
            var preset = ModelPreset.Get(r.GetValue(ppoConfig)!);
            if (r.GetValue(ppoThreads) is { } t) Emit(PpoBench.Run(preset, t, r.GetValue(ppoSteps), r.GetValue(profile), r.GetValue(ppoLora), r.GetValue(ppoRollout)!, r.GetValue(ppoCheckpointing), r.GetValue(ppoRecompute), r.GetValue(ppoBf16)));
            else EachThreadSettingInChildProcess(r.Tokens.Select(x => x.Value), "steps_per_s");
        });
        bench.Add(ppo);
        bench.Add(TokenizeBench.Create());
        bench.Add(ServeBench.Create());
        return bench;
    }

    private static int[] ThreadSettings(int? threads) => threads is { } t ? [t] : [1, 2];

    private static void Emit(Dictionary<string, object> row) => Console.Out.WriteLine(JsonSerializer.Serialize(row));

    private static unsafe void GemmThroughput(int? threadOption)
    {
        foreach (int n in new[] { 256, 512, 1024, 2048 })
        {
            var a = GC.AllocateUninitializedArray<float>(n * n, pinned: true);
            var b = GC.AllocateUninitializedArray<float>(n * n, pinned: true);
            var c = GC.AllocateUninitializedArray<float>(n * n, pinned: true);
            var rng = new Rng(1);
            for (int i = 0; i < a.Length; i++) { a[i] = rng.NextFloat() - 0.5f; b[i] = rng.NextFloat() - 0.5f; }
            var rows = new List<Dictionary<string, object>>();
            foreach (int t in ThreadSettings(threadOption))
            {
                fixed (float* pa = a, pb = b, pc = c)
                {
                    var (pa2, pb2, pc2) = ((nint)pa, (nint)pb, (nint)pc);
                    double best = BestSeconds(() => Gemm.Multiply(false, false, n, n, n, (float*)pa2, n, (float*)pb2, n, (float*)pc2, n, false, t), minSeconds: 1.0);
                    var row = new Dictionary<string, object> { ["bench"] = "gemm", ["n"] = n, ["threads"] = t, ["gflops"] = Math.Round(2.0 * n * n * n / best / 1e9, 1) };
                    Emit(row);
                    rows.Add(row);
                }
            }
            if (rows.Count > 1) EmitBest(rows, "gflops");
        }
    }

    /// <summary>Repeats the row with the highest <paramref name="key"/>, labelled as the anchor labels its best.</summary>
    private static void EmitBest(List<Dictionary<string, object>> rows, string key)
    {
        var winner = rows.MaxBy(r => r[key] is JsonElement e ? e.GetDouble() : Convert.ToDouble(r[key]))!;
        Emit(new Dictionary<string, object>(winner)
        {
            ["threads"] = "best of " + string.Join(",", rows.Select(r => r["threads"])),
            ["best_threads"] = winner["threads"],
        });
    }

    // Peak RSS is a process high-water mark, so each thread setting gets a fresh process of its own.
    private static void EachThreadSettingInChildProcess(IEnumerable<string> commandLine, string key)
    {
        var rows = new List<Dictionary<string, object>>();
        foreach (int t in ThreadSettings(null))
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
                start.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
            foreach (var a in commandLine) start.ArgumentList.Add(a);
            start.ArgumentList.Add("--threads");
            start.ArgumentList.Add(t.ToString());
            using var child = Process.Start(start)!;
            string output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            if (child.ExitCode != 0) throw new InvalidOperationException($"bench at {t} threads exited with code {child.ExitCode}.");
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                Console.Out.WriteLine(line);
                rows.Add(JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(line)!.ToDictionary(kv => kv.Key, kv => (object)kv.Value));
            }
        }
        EmitBest(rows, key);
    }

    // Best single-call time over repeated calls lasting at least minSeconds (after one warm-up call).
    private static double BestSeconds(Action body, double minSeconds)
    {
        body();
        var total = Stopwatch.StartNew();
        double best = double.MaxValue;
        while (total.Elapsed.TotalSeconds < minSeconds)
        {
            var sw = Stopwatch.StartNew();
            body();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static void Train(ModelPreset preset, int t, double minSeconds, bool profile, bool checkpointing, bool recomputeAttention, bool bf16)
    {
        Engine.Threads = t;
        var model = CausalLanguageModel.Create(preset.ToConfig(), seed: 0);
        model.GradientCheckpointing = checkpointing;
        model.RecomputeAttention = recomputeAttention;
        model.Bf16Activations = bf16;
        var opt = new AdamW(model.Parameters, learningRate: 3e-4f, weightDecay: 0.1f);
        // Data-parallel under mpirun: each rank its own batch of the preset's size, gradients summed before every step.
        var rng = new Rng((ulong)World.Rank);
        int b = preset.Batch, ctx = preset.Context;
        var x = Enumerable.Range(0, b * ctx).Select(_ => rng.NextInt(preset.Vocab)).ToArray();
        var y = Enumerable.Range(0, b * ctx).Select(_ => rng.NextInt(preset.Vocab)).ToArray();
        double optimizerSeconds = 0;
        float Step()
        {
            float loss;
            // The last step's optimiser update and tape release are no op's time (AdamW has its own row).
            Tape.Profile?.Restart();
            using (var tape = new Tape())
            {
                var l = model.Loss(new ModelInput(x, b, ctx), y);
                loss = l.Item();
                opt.ZeroGrad();
                tape.Backward(l);
            }
            opt.SumGradientsAcrossRanks();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            opt.Step();
            optimizerSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
            return loss;
        }
        float first = Step();
        Step();
        optimizerSeconds = 0;
        if (profile) Tape.Profile = new OpProfile();
        if (World.IsMain) Console.Error.WriteLine($"bench train {preset.Name}: threads {t}{(World.IsDistributed ? $" × {World.Size} ranks" : "")}, warm-up done (loss {first:F3}), timing ≥ {minSeconds} s");
        var sw = Stopwatch.StartNew();
        int steps = 0;
        float last = first;
        // The ranks agree on when to stop, or one would wait for the others in its next sum.
        while (World.Any(sw.Elapsed.TotalSeconds < minSeconds || steps < 3)) { last = Step(); steps++; }
        double elapsed = sw.Elapsed.TotalSeconds;
        double tps = (double)b * ctx * steps * World.Size / elapsed;
        if (!World.IsMain) return;
        if (Tape.Profile is { } prof)
        {
            PrintProfile(prof, steps, "step");
            Console.Error.WriteLine($"  {"adamw",-16} {optimizerSeconds / steps,8:F4}");
            Tape.Profile = null;
        }
        var row = new Dictionary<string, object>
        {
            ["bench"] = "train", ["config"] = preset.Name, ["threads"] = t, ["params"] = model.ParameterCount,
            ["train_tokens_per_s"] = Math.Round(tps, 1), ["peak_rss_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            ["loss_first"] = Math.Round(first, 4), ["loss_last"] = Math.Round(last, 4), ["steps"] = steps + 2,
        };
        // peak_rss_mb is then rank 0's.
        if (World.IsDistributed) row["ranks"] = World.Size;
        if (checkpointing) row["gradient_checkpointing"] = true;
        if (recomputeAttention) row["recompute_attention"] = true;
        if (bf16) row["bf16"] = true;
        Emit(row);
    }

    internal static void PrintProfile(OpProfile profile, double steps, string unit)
    {
        Console.Error.WriteLine($"profile per {unit} (op, forward s, backward s, calls):");
        foreach (var (op, f, bw, calls) in profile.Rows())
            Console.Error.WriteLine($"  {op,-16} {f / steps,8:F5} {bw / steps,8:F5} {calls / steps,6:F1}");
    }

    private static void Generate(ModelPreset preset, int t, int batch, double minSeconds, bool profile, bool bf16, bool int8, bool bf16KvCache)
    {
        Engine.Threads = t;
        var model = CausalLanguageModel.Create(preset.ToConfig(), seed: 0);
        if (bf16) model.FreezeAsBf16();
        if (int8) model.KeepInt8Weights();
        model.Bf16KvCache = bf16KvCache;
        int newTokens = Math.Min(112, preset.Context - 16);
        var rng = new Rng(0);
        // The anchor runs one forward per counted token after the prefill; max_new_tokens = new + 1 does the same.
        var options = new SamplingOptions { MaxNewTokens = newTokens + 1, Temperature = 0 };
        void Run() => Generator.Generate(model, [.. Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, 16).Select(_ => rng.NextInt(preset.Vocab)).ToArray())], options);
        Run();
        Console.Error.WriteLine($"bench generate {preset.Name}: threads {t}, batch {batch}, warm-up done, timing ≥ {minSeconds} s");
        if (profile) Tape.Profile = new OpProfile();
        var sw = Stopwatch.StartNew();
        int runs = 0;
        while (sw.Elapsed.TotalSeconds < minSeconds || runs < 2) { Run(); runs++; }
        double elapsed = sw.Elapsed.TotalSeconds, steps = (double)runs * newTokens;
        if (Tape.Profile is { } prof)
        {
            PrintProfile(prof, steps, "decode step");
            Tape.Profile = null;
        }
        var row = new Dictionary<string, object>
        {
            ["bench"] = "generate", ["config"] = preset.Name, ["threads"] = t, ["batch"] = batch, ["params"] = model.ParameterCount,
            ["generate_tokens_per_s"] = Math.Round(batch * steps / elapsed, 1),
            ["ms_per_step"] = Math.Round(1000 * elapsed / steps, 3),
            // Every decode step reads every weight once (the tied embedding twice: lookup rows are negligible), 2 bytes each in bf16, 1 in int8.
            ["weights_gb_per_s"] = Math.Round(model.ParameterCount * (int8 ? 1.0 : bf16 ? 2.0 : 4.0) * steps / elapsed / 1e9, 2),
            ["peak_rss_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
        };
        if (bf16) row["bf16"] = true;
        if (int8) row["int8"] = true;
        if (bf16KvCache) row["kv_cache_dtype"] = "bfloat16";
        Emit(row);
    }

    private static void Dpo(int t, double minSeconds)
    {
        const int Pairs = 4, Prompt = 256, Completion = 256, Length = Prompt + Completion;
        Engine.Threads = t;
        var preset = ModelPreset.Get("small");
        var config = preset.ToConfig() with { MaxPositions = Length };
        var policy = CausalLanguageModel.Create(config, seed: 0);
        var reference = CausalLanguageModel.Create(config, seed: 0);
        reference.SetTrainable(false);
        var opt = new AdamW(policy.Parameters, learningRate: 1e-6f, weightDecay: 0f);
        var rng = new Rng(0);
        var ids = Enumerable.Range(0, 2 * Pairs * Length).Select(_ => rng.NextInt(preset.Vocab)).ToArray();
        var labels = ids.Select((id, i) => i % Length >= Prompt ? id : -100).ToArray();
        var batch = new Reins.Feedback.Batching.TokenBatch(2 * Pairs, Length, ids, Enumerable.Repeat(1f, ids.Length).ToArray(), labels);
        void Step()
        {
            var refs = Reins.Alignment.Objectives.SequenceLogProbs.FrozenSums(reference, batch);
            using (var tape = new Tape())
            {
                var (sums, lengths, _) = Reins.Alignment.Objectives.SequenceLogProbs.Compute(policy, batch);
                var loss = Reins.Alignment.Objectives.DirectPreferenceLoss.Compute(new Reins.Alignment.Objectives.PreferenceLogProbs(
                    Ops.Narrow0(sums, 0, Pairs), Ops.Narrow0(sums, Pairs, Pairs), Tensor.FromArray(refs.AsSpan(0, Pairs), Pairs), Tensor.FromArray(refs.AsSpan(Pairs), Pairs),
                    lengths[..Pairs], lengths[Pairs..]), new Reins.Alignment.Objectives.PreferenceLossOptions()).Loss;
                opt.ZeroGrad();
                tape.Backward(loss);
            }
            opt.Step();
        }
        Step();
        Step();
        Console.Error.WriteLine($"bench dpo small: threads {t}, warm-up done, timing ≥ {minSeconds} s");
        var sw = Stopwatch.StartNew();
        int steps = 0;
        while (sw.Elapsed.TotalSeconds < minSeconds || steps < 3) { Step(); steps++; }
        Emit(new Dictionary<string, object>
        {
            ["bench"] = "dpo", ["config"] = "small", ["threads"] = t, ["pairs_per_s"] = Math.Round(Pairs * steps / sw.Elapsed.TotalSeconds, 3),
            ["peak_rss_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
        });
    }
}
