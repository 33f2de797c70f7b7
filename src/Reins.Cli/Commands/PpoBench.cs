using System.Diagnostics;
using Reins.Alignment.Online;
using Reins.Alignment.Ppo;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Chat;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Rewards.Scoring;
using Reins.Rewards.Sources;
using Reins.Tensors;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins bench ppo`: where the time of a PPO step goes, as tools/torch_ppo_bench.py measures it. The step is
/// <see cref="PpoTrainer"/>'s own: 8 prompts of 64 random tokens, one completion each of up to 64 tokens sampled at
/// temperature 1 with the KV cache; a reward model (the preset's GPT-2 trunk with a scalar head, read at the last
/// token) scores the 8 × 128 tokens; the frozen reference and the critic (the same trunk, value head at every
/// position) evaluate them; GAE (γ 1, λ 0.95) and whitened advantages; one epoch of one mini-batch of 8: policy and
/// critic forward and backward through the clipped losses, one AdamW step each. All four models have the preset's
/// size. One warm-up step, then <c>steps</c> timed ones. Reports rollout tokens/s (generated tokens per second of
/// generation), training tokens/s (prompt + completion tokens per second of update) and each phase's share of the step.
/// </summary>
internal static class PpoBench
{
    public const int Prompts = 8, PromptTokens = 64, NewTokens = 64;

    // Prompts are written as token ids ("17 4021 …"), so the benchmark needs no tokenizer; the last id is EOS.
    private sealed class IdEncoder(int vocab) : ITextEncoder
    {
        public int? BosId => null;
        public int? EosId => vocab - 1;
        public int? PadId => vocab - 1;
        public int[] Encode(string text) => [.. text.Split(' ').Select(int.Parse)];
        public (int[] Ids, bool[] AssistantMask) EncodeConversation(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
            throw new NotSupportedException("the PPO benchmark has text prompts only");
        public static string Decode(int[] ids) => string.Join(' ', ids);
    }

    public static Dictionary<string, object> Run(ModelPreset preset, int threads, int steps, bool profile, int? loraRank = null, string rolloutDtype = "float32", bool gradientCheckpointing = false, bool recomputeAttention = false, bool bf16 = false)
    {
        Engine.Threads = threads;
        var config = preset.ToConfig();
        var policy = CausalLanguageModel.Create(config, seed: 0);
        // Dropout's masks could not be redrawn alike by a checkpointed block's recomputation, so it is off with checkpointing.
        var peft = loraRank is { } rank ? new PeftArguments { UsePeft = true, LoraR = rank, LoraAlpha = 2 * rank, LoraDropout = gradientCheckpointing ? 0 : new PeftArguments().LoraDropout } : new PeftArguments();
        peft.Apply(policy, seed: 0);
        // With LoRA the reference and the critic hold the policy's frozen base itself, as the CLI gives them.
        var reference = CausalLanguageModel.Create(config, seed: 0, peft.UsePeft ? policy : null);
        var critic = PpoTrainer.CriticFromPolicy(policy, seed: 1);
        var rewardModel = new RewardModel(CausalLanguageModel.Create(config with { NumLabels = 1 }, seed: 2));
        var encoder = new IdEncoder(preset.Vocab);
        var reward = new RewardModelSource(rewardModel, encoder, new RewardScoringOptions { UseRequestTokenIds = true, BatchSize = Prompts });
        var rng = new Rng(0);
        var prompts = Enumerable.Range(0, Prompts).Select(_ => new PromptOnlyExample(TextOrConversation.FromText(
            string.Join(' ', Enumerable.Range(0, PromptTokens).Select(_ => rng.NextInt(preset.Vocab - 1)))))).ToList();
        string dir = Directory.CreateTempSubdirectory("reins-bench-ppo-").FullName;
        try
        {
            var ppo = new PpoConfig
            {
                Training = new() { OutputDir = dir, MaxSteps = 1 + steps, PerDeviceTrainBatchSize = Prompts, LearningRate = 1e-5f, LrSchedulerType = "constant", LoggingSteps = 1, Peft = peft, GradientCheckpointing = gradientCheckpointing, RecomputeAttention = recomputeAttention, Bf16 = bf16 },
                Online = new() { Sampling = new() { MaxPromptLength = PromptTokens, MaxCompletionLength = NewTokens }, RolloutDtype = rolloutDtype },
                NumPpoEpochs = 1,
            };
            ppo.Training.Freeze(rewardModel.Network);
            var trainer = new PpoTrainer(ppo, policy, reference, critic, new OnlineInputs(encoder, IdEncoder.Decode, reward, prompts));
            var timing = new StepTiming(trainer, profile);
            trainer.Train(progress: timing);
            var phases = timing.Phases;
            double generated = timing.MeanLength * Prompts * steps, trained = (PromptTokens + timing.MeanLength) * Prompts * steps;
            double Share(string phase) => Math.Round(phases.GetValueOrDefault(phase) / timing.Seconds, 3);
            Console.Error.WriteLine($"bench ppo {preset.Name}: threads {threads}, {steps} timed steps of {timing.Seconds / steps:F2} s");
            var row = new Dictionary<string, object>
            {
                ["bench"] = "ppo", ["config"] = preset.Name, ["threads"] = threads, ["params"] = policy.ParameterCount, ["prompts"] = Prompts,
                ["prompt_tokens"] = PromptTokens, ["new_tokens"] = NewTokens, ["mean_completion_tokens"] = Math.Round(timing.MeanLength, 2),
                ["s_per_step"] = Math.Round(timing.Seconds / steps, 3), ["steps_per_s"] = Math.Round(steps / timing.Seconds, 4),
                ["rollout_tokens_per_s"] = Math.Round(generated / phases["generation"], 1),
                ["train_tokens_per_s"] = Math.Round(trained / phases["update"], 1),
                ["share_generation"] = Share("generation"), ["share_reward"] = Share("reward"), ["share_reference"] = Share("reference"),
                ["share_critic"] = Share("evaluation"), ["share_update"] = Share("update"),
                ["peak_rss_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1), ["steps"] = steps + 1,
                ["trainable_params"] = policy.TrainableParameters.Sum(p => (long)p.Size) + critic.TrainableParameters.Sum(p => (long)p.Size),
                ["lora_r"] = loraRank ?? 0, ["rollout_dtype"] = rolloutDtype, ["gradient_checkpointing"] = gradientCheckpointing, ["recompute_attention"] = recomputeAttention,
                ["bf16"] = bf16,
            };
            if (timing.MeanDrift is { } meanDrift) row["logprob_drift"] = Math.Round(meanDrift, 6);
            return row;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // Phase times and completion lengths of the steps after the first (warm-up) one, read as each step ends.
    private sealed class StepTiming(PpoTrainer trainer, bool profile) : IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>
    {
        private Dictionary<string, double> atWarmUp = [];
        private readonly Stopwatch clock = new();
        private readonly List<double> lengths = [], drifts = [];

        public Dictionary<string, double> Phases { get; private set; } = [];
        public double Seconds { get; private set; }
        public double MeanLength => lengths.Average();
        public double? MeanDrift => drifts.Count == 0 ? null : drifts.Average();

        public void Report((long Step, long Total, IReadOnlyDictionary<string, double> Metrics) value)
        {
            if (value.Step == 1)
            {
                atWarmUp = new Dictionary<string, double>(trainer.PhaseSeconds);
                if (profile) Tape.Profile = new OpProfile();
                clock.Restart();
                return;
            }
            lengths.Add(value.Metrics["completions/mean_length"]);
            if (value.Metrics.TryGetValue("rollout/logprob_drift", out var drift)) drifts.Add(drift);
            if (value.Step < value.Total) return;
            Seconds = clock.Elapsed.TotalSeconds;
            Phases = trainer.PhaseSeconds.ToDictionary(kv => kv.Key, kv => kv.Value - atWarmUp.GetValueOrDefault(kv.Key));
            if (Tape.Profile is { } prof)
            {
                BenchCommand.PrintProfile(prof, lengths.Count, "step");
                Tape.Profile = null;
            }
        }
    }
}
