using System.CommandLine;
using System.Globalization;
using Reins.Alignment.Training;
using Reins.Models.Checkpoints;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins memory-plan`: for a memory budget and a batch shape, the largest GPT-2 or Llama size each method's models fit
/// (float32, bf16, LoRA; <see cref="MemoryPlan"/>), or, with --model, what that checkpoint's architecture needs under each method.
/// </summary>
internal static class MemoryPlanCommand
{
    public static Command Create()
    {
        var budget = new Option<double>("--budget-gib") { Description = "Memory budget in GiB.", DefaultValueFactory = _ => 24 };
        var micro = new Option<int>("--micro-batch") { Description = "Sequences per forward and backward (per_device_train_batch_size).", DefaultValueFactory = _ => 4 };
        var prompt = new Option<int>("--prompt-length") { Description = "Prompt tokens per sequence.", DefaultValueFactory = _ => 128 };
        var completion = new Option<int>("--completion-length") { Description = "Completion tokens per sequence.", DefaultValueFactory = _ => 128 };
        var rollout = new Option<int>("--rollout") { Description = "Sequences sampled at once with the KV cache.", DefaultValueFactory = _ => 64 };
        var model = new Option<string?>("--model") { Description = "A checkpoint directory: plan its architecture instead of a table of sizes." };
        var sizes = new Option<string>("--sizes") { Description = "The sizes to choose from: gpt2 (GPT-2's four) or llama (TinyLlama-1.1B, Llama-3.2-1B and 3B, Llama-2-7B, Llama-3.1-8B).", DefaultValueFactory = _ => "gpt2" };
        var lora = new Option<int>("--lora-r") { Description = "Plan LoRA training of this rank (--use-peft, PEFT's default targets): one shared frozen base, gradients and moments for the adapters only (0 = full fine-tuning).", DefaultValueFactory = _ => 0 };
        var loraDropout = new Option<float>("--lora-dropout") { Description = "The adapters' lora_dropout: above 0, each adapted layer's dropped input and its mask are kept for the backward.", DefaultValueFactory = _ => MemoryPlan.DefaultLoraDropout };
        var checkpointing = new Option<bool>("--gradient-checkpointing") { Description = "Plan training that recomputes each block's activations (keeps block inputs only)." };
        var recompute = new Option<bool>("--recompute-attention") { Description = "Plan training that recomputes attention probabilities." };
        var bf16 = new Option<bool>("--bf16") { Description = "Plan bf16 training (TRL's flag): the blocks' saved activations and the frozen models' weights at 2 bytes." };
        var cmd = new Command("memory-plan", "The largest model each training method fits in a memory budget (weights, gradients, AdamW moments, activations, KV cache, runtime).")
            { budget, micro, prompt, completion, rollout, model, sizes, lora, loraDropout, checkpointing, recompute, bf16 };
        cmd.SetAction(r =>
        {
            var batch = new MemoryBatch(r.GetValue(micro), r.GetValue(prompt), r.GetValue(completion), r.GetValue(rollout), r.GetValue(checkpointing), r.GetValue(recompute), r.GetValue(bf16));
            if (batch.MicroBatchRows < 1 || batch.PromptLength < 1 || batch.CompletionLength < 1 || batch.RolloutRows < 1)
                throw new ArgumentException("memory-plan: --micro-batch, --prompt-length, --completion-length and --rollout must be positive.");
            double gib = r.GetValue(budget);
            if (!(gib > 0)) throw new ArgumentException($"--budget-gib: {gib.ToString(CultureInfo.InvariantCulture)} is not a positive number of GiB.");
            long bytes = (long)(gib * MemoryPlan.Gibibyte);
            int rank = r.GetValue(lora);
            if (rank < 0) throw new ArgumentException($"--lora-r: {rank} is negative.");
            float dropout = r.GetValue(loraDropout);
            if (dropout is < 0 or >= 1) throw new ArgumentException($"--lora-dropout: {dropout.ToString(CultureInfo.InvariantCulture)} is not in [0, 1).");
            var candidates = r.GetValue(model) is { } path ? [(Path.GetFileName(Path.GetFullPath(path)), HfCheckpoint.LoadConfig(path))]
                : r.GetValue(sizes) switch
                {
                    "gpt2" => MemoryPlan.Gpt2Sizes,
                    "llama" => MemoryPlan.LlamaSizes,
                    var other => throw new ArgumentException($"--sizes: '{other}' is not gpt2 or llama."),
                };
            Console.Out.WriteLine($"{"method",-17} {"largest that fits",-18} {"parameters",14} {"trained+frozen",14} {"states GiB",10} {"activations GiB",15} {"total GiB",9}");
            foreach (var method in Enum.GetValues<PlannedMethod>())
            {
                var fits = MemoryPlan.Largest(method, candidates.Select(c => c.Config), batch, bytes, rank, dropout);
                var shown = fits ?? candidates.MinBy(c => c.Config.ParameterCount()).Config;
                var plan = MemoryPlan.For(method, shown, batch, rank, dropout);
                string name = fits is null ? "none" : candidates.First(c => c.Config == fits).Name;
                Console.Out.WriteLine($"{CommandName(method),-17} {name,-18} {plan.ParametersPerModel,14:N0} {$"{plan.TrainedModels} + {plan.FrozenModels}",14} " +
                    $"{Gib(plan.StateBytes),10} {Gib(plan.ActivationBytes),15} {Gib(plan.TotalBytes),9}{(fits is null ? "  (the smallest, over the budget)" : "")}");
            }
            Console.Out.WriteLine($"{(batch.Bf16 ? "bf16 (frozen weights and saved activations)" : "fp32")}{(rank > 0 ? $", LoRA r {rank} (dropout {dropout.ToString(CultureInfo.InvariantCulture)}) on one shared base" : "")}; budget {gib.ToString(CultureInfo.InvariantCulture)} GiB; micro-batches of {batch.MicroBatchRows} × ({batch.PromptLength} + {batch.CompletionLength}) tokens; rollouts of {batch.RolloutRows} sequences; totals include the runtime's {Gib(MemoryPlan.RuntimeBytes)} GiB.");
        });
        return cmd;
    }

    // The command that trains with the method.
    private static string CommandName(PlannedMethod method) => method switch
    {
        PlannedMethod.ReinforcePlusPlus => "reinforce-pp",
        PlannedMethod.RewardModel => "rm",
        PlannedMethod.BestOfN => "bon",
        _ => ConfigBinder.SnakeCase(method.ToString()).Replace('_', '-'),
    };

    private static string Gib(long bytes) => (bytes / (double)MemoryPlan.Gibibyte).ToString("G3", CultureInfo.InvariantCulture);
}
