using System.Text.Json.Nodes;
using Reins.Alignment.Dpo;
using Reins.Alignment.Ppo;
using Reins.Alignment.Sft;
using Reins.Alignment.Tests.Online;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Peft;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Alignment.Tests;

/// <summary>
/// Trainers with --use-peft: only the adapters (and saved modules) move, the reference is the policy's own frozen base
/// (shared tensors, not a copy), a PPO critic shares that base too, runs save PEFT adapters and resume exactly.
/// </summary>
public sealed class LoraTrainingTests : IDisposable
{
    private readonly Scratch scratch = new();
    private static readonly Tokenizer Bytes = Tokenizer.CreateByteLevel(260);
    private static readonly TokenizerEncoder Encoder = new(Bytes);

    public void Dispose() => scratch.Dispose();

    private static TextOrConversation T(string s) => TextOrConversation.FromText(s);

    // A Llama saved as a checkpoint, loaded back: its directory is the base the adapters name.
    private CausalLanguageModel BaseModel()
    {
        string path = scratch.Dir("base");
        if (!Directory.Exists(path))
            HfCheckpoint.Save(CausalLanguageModel.Create(ModelConfig.Llama(vocab: 260, hidden: 32, layers: 2, heads: 4, maxPositions: 64, kvHeads: 2)
                with { BosTokenId = Bytes.BosId, EosTokenId = Bytes.EosId, PadTokenId = Bytes.PadId }, 4), path);
        return HfCheckpoint.Load(path);
    }

    private static PeftArguments Lora(float dropout = 0) => new() { UsePeft = true, LoraR = 4, LoraAlpha = 8, LoraDropout = dropout, LoraTargetModules = [LoraConfig.AllLinear] };

    private static List<PreferenceExample> Pairs(int count)
    {
        string[] good = ["yes", "sure", "ok"], bad = ["no", "nah", "nope"];
        var rng = new Rng(1);
        return [.. Enumerable.Range(0, count).Select(_ => new PreferenceExample(T("q" + (char)('a' + rng.NextInt(26)) + ":"), T(good[rng.NextInt(3)]), T(bad[rng.NextInt(3)])))];
    }

    private static Dictionary<string, float[]> Snapshot(IEnumerable<Tensor> parameters) => parameters.ToDictionary(p => p.Name!, p => p.ToArray());

    [Fact]
    public void DpoTrainsOnlyTheAdaptersAgainstTheSharedBaseAndSavesAPeftAdapter()
    {
        Engine.Threads = 1;
        string run = scratch.Dir("dpo");
        var config = new DpoConfig
        {
            Training = new() { OutputDir = run, MaxSteps = 30, LearningRate = 1e-2f, PerDeviceTrainBatchSize = 8, LoggingSteps = 1, Seed = 3, Peft = Lora() },
            Loss = new() { Beta = 0.1f },
        };
        var policy = BaseModel();
        config.Training.Peft.Apply(policy, seed: 3);
        var reference = CausalLanguageModel.Create(policy.Config, 0, policy);
        // The reference holds the policy's own base tensors, and none of its adapters.
        Assert.All(reference.Parameters, p => Assert.Same(policy[p.Name!], p));
        Assert.Equal(policy.Parameters.Count(p => !p.RequiresGrad), reference.Parameters.Count);
        var frozen = Snapshot(reference.Parameters);

        var trainer = new DpoTrainer(config, policy, reference, Encoder, Pairs(64), Pairs(16), Bytes.Save);
        trainer.Train();

        var rows = Scratch.Metrics(run);
        // B starts at zero, so the policy starts as its reference: DPO's loss is ln 2 exactly.
        Assert.Equal(Math.Log(2), rows[0]["loss"]!.GetValue<double>(), 6);
        Assert.True(rows.Last(r => r["rewards/margins"] is not null)["rewards/margins"]!.GetValue<double>() > 0, "the adapters did not move the chosen/rejected ratio");
        foreach (var (name, values) in frozen) Assert.Equal(values, policy[name].ToArray());
        Assert.Contains(policy.Lora!.Layers, l => l.Adapter.B.ToArray().Any(v => v != 0));

        Assert.True(File.Exists(Path.Combine(run, PeftCheckpoint.WeightsFile)));
        Assert.False(File.Exists(Path.Combine(run, "model.safetensors")));
        // Loading the run merges the adapters into the base it names: the trained policy's logits.
        var loaded = HfCheckpoint.Load(run);
        var ids = Encoder.Encode("qa:yes");
        using var _ = Tape.NoGrad();
        var input = ModelInput.Padded(ids, 1, ids.Length, null);
        Assert.True(MaxDifference(policy.Logits(input).ToArray(), loaded.Logits(input).ToArray()) < 1e-4);
    }

    private static double MaxDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    private SftTrainer Sft(string output) => new(
        new SftConfig
        {
            Training = new()
            {
                OutputDir = output, MaxSteps = 8, SaveSteps = 3, LoggingSteps = 1, LearningRate = 1e-2f, PerDeviceTrainBatchSize = 4, GradientAccumulationSteps = 2,
                Seed = 5, Peft = Lora(dropout: 0.2f),
            },
        },
        BaseModel(), Encoder, [.. Enumerable.Range(0, 30).Select(i => new PromptCompletionExample(T($"n{i}="), T(new string((char)('a' + i % 5), 3 + i % 4))))], null, Bytes.Save);

    [Fact]
    public void AnInterruptedLoraRunWithDropoutResumesToTheSameAdapter()
    {
        Engine.Threads = 1;
        string straight = scratch.Dir("straight"), resumed = scratch.Dir("resumed");
        Sft(straight).Train();
        using var cts = new CancellationTokenSource();
        var first = Sft(resumed).Train(cancellation: cts.Token, progress: new SynchronousProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>(p => { if (p.Step == 5) cts.Cancel(); }));
        Assert.True(first.Interrupted);
        Assert.True(File.Exists(Path.Combine(resumed, "checkpoint-5", PeftCheckpoint.WeightsFile)));
        Sft(resumed).Train(resume: true);
        Assert.Equal(File.ReadAllLines(Path.Combine(straight, "metrics.jsonl")), File.ReadAllLines(Path.Combine(resumed, "metrics.jsonl")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, PeftCheckpoint.WeightsFile)), File.ReadAllBytes(Path.Combine(resumed, PeftCheckpoint.WeightsFile)));
    }

    [Fact]
    public void PpoWithLoraLearnsWithACriticOnThePoliciesBase()
    {
        Engine.Threads = 1;
        string run = scratch.Dir("ppo");
        var config = new PpoConfig
        {
            Training = new() { OutputDir = run, MaxSteps = 300, LearningRate = 3e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 6, LoggingSteps = 10,
                // The tiny model's random tied embedding is ~0.02 a weight: through it no adapter can make the logits
                // differ by more than ~0.6 (with adapters alone the reward stayed near chance, 0.05 → 0.11), so the
                // embedding trains in full, as PEFT's modules_to_save lets it.
                Peft = Lora() with { LoraR = 8, LoraAlpha = 16, LoraModulesToSave = ["wte"] } },
            Online = new() { Sampling = new() { MaxCompletionLength = TinyTask.CompletionLength }, NumMiniBatches = 2 },
            NumPpoEpochs = 2,
            KlCoef = 0.01f,
        };
        var policy = TinyTask.Model();
        config.Training.Peft.Apply(policy, seed: 1);
        var reference = CausalLanguageModel.Create(policy.Config, 0, policy);
        var critic = PpoTrainer.CriticFromPolicy(policy, seed: 2);
        // The critic holds the policy's frozen tensors themselves, and a copy of the embedding the policy trains.
        var trunk = critic.Parameters.Where(p => policy.HasParameter(p.Name!) && !policy[p.Name!].RequiresGrad).ToList();
        Assert.All(trunk, p => Assert.Same(policy[p.Name!], p));
        Assert.Equal(critic.Parameters.Count - 2, trunk.Count);
        Assert.NotSame(policy["transformer.wte.weight"], critic["transformer.wte.weight"]);
        Assert.Equal(policy["transformer.wte.weight"].ToArray(), critic["transformer.wte.weight"].ToArray());
        var frozen = Snapshot(trunk);

        new PpoTrainer(config, policy, reference, critic, TinyTask.Inputs(TinyTask.Reward(), TinyTask.Prompts("abcdefabcdef"))).Train();

        // The critic got adapters of its own on the shared layers, and trained them with its score head.
        Assert.NotNull(critic.Lora);
        Assert.All(critic.Lora!.Layers, l => Assert.NotSame(policy[l.Path + ".lora_A.weight"], l.Adapter.A));
        Assert.Equal(["wte", "score"], critic.Lora.Config.ModulesToSave!);
        foreach (var (name, values) in frozen) Assert.Equal(values, policy[name].ToArray());
        var rows = Scratch.Metrics(run);
        double first = rows[0]["reward"]!.GetValue<double>(), last = rows[^3..].Average(r => r["reward"]!.GetValue<double>());
        Assert.True(first <= 0.2 && last >= 0.6, $"reward {first} → {last}: {string.Join("\n", rows.Select(r => r.ToJsonString()))}");
        var savedCritic = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "critic", PeftCheckpoint.ConfigFile)))!;
        Assert.Equal("SEQ_CLS", savedCritic["task_type"]!.GetValue<string>());
    }
}
