using System.CommandLine;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Distributed;
using Spectre.Console;

namespace Reins.Cli.Commands.Training;

/// <summary>
/// What every trainer command shares: --model, --train, --eval, --config, --resume, --skip-invalid, --threads, and one
/// flag per config field (kebab-case, with the snake_case spelling as an alias; --out for output_dir). Settings
/// resolve as defaults &lt; --config JSON &lt; flags.
/// </summary>
internal sealed class TrainerCli<TConfig> where TConfig : ITrainerConfig, new()
{
    private readonly Option<string> model = new("--model") { Description = "Checkpoint directory of the model to train (with its tokenizer).", Required = true };
    private readonly Option<string> train = new("--train") { Description = "Training JSONL.", Required = true };
    private readonly Option<string?> eval = new("--eval") { Description = "Evaluation JSONL." };
    private readonly Option<string?> config = new("--config") { Description = "JSON file of settings (TRL's snake_case keys); flags override it." };
    private readonly Option<bool> resume = new("--resume") { Description = "Continue from the latest checkpoint-N in the output directory." };
    private readonly Option<bool> skipInvalid = new("--skip-invalid", "--skip_invalid") { Description = "Skip (and count) malformed dataset lines instead of stopping." };
    private readonly Option<int?> threads = CommonOptions.Threads();
    private readonly SettingsOptions<TConfig> settings;
    private readonly List<string> dataFiles = [];

    /// <summary>Adds the shared options and one per config field to <paramref name="command"/>.</summary>
    public TrainerCli(Command command)
    {
        foreach (var o in new Option[] { model, train, eval, config, resume, skipInvalid, threads }) command.Add(o);
        settings = new SettingsOptions<TConfig>(command);
    }

    /// <summary>The resolved settings.</summary>
    public TConfig Config(ParseResult r) => settings.Resolve(r, r.GetValue(config));

    /// <summary>Model directory given by --model.</summary>
    public string ModelPath(ParseResult r) => r.GetValue(model)!;

    /// <summary>Loads the model and its tokenizer, applying --threads; the weights <paramref name="heldAsBf16"/> accepts are read as bf16 only (see HfCheckpoint.Load).</summary>
    public (CausalLanguageModel Model, Tokenizer Tokenizer) LoadModel(ParseResult r, string? path = null, Func<string, bool>? heldAsBf16 = null)
    {
        ApplyThreads(r);
        path ??= r.GetValue(model)!;
        return HfCheckpoint.LoadWithTokenizer(path, heldAsBf16);
    }

    /// <summary>The model to train as a policy (--model), with its LoRA adapters already added under --use-peft so a reference or critic can share its frozen base.</summary>
    public (CausalLanguageModel Model, Tokenizer Tokenizer) LoadPolicy(ParseResult r, TrainingArguments training)
    {
        var (policy, tokenizer) = LoadModel(r, heldAsBf16: training.TrainedModelHeldAsBf16);
        training.Peft.Apply(policy, TrainableModel.AdapterSeed(training.Seed, null));
        return (policy, tokenizer);
    }

    /// <summary>
    /// The frozen reference: <paramref name="path"/> (--ref-model) when given; else under --use-peft the policy (from
    /// <see cref="LoadPolicy"/>, adapters added) with its adapters off — a model sharing the policy's frozen weights, not
    /// a copy, as TRL does; else --model loaded again.
    /// </summary>
    public CausalLanguageModel Reference(ParseResult r, TrainingArguments training, CausalLanguageModel policy, string? path) =>
        path is null && training.Peft.UsePeft ? CausalLanguageModel.Create(policy.Config, 0, policy) : LoadModel(r, path ?? ModelPath(r), training.FrozenModelHeldAsBf16).Model;

    /// <summary>Applies --threads (LoadModel does it too).</summary>
    public void ApplyThreads(ParseResult r) => CommonOptions.ApplyThreads(r.GetValue(threads));

    /// <summary>Reads --train (and --eval) as <typeparamref name="T"/> records, reporting skipped lines on stderr.</summary>
    public (IReadOnlyList<T> Train, IReadOnlyList<T>? Eval) Datasets<T>(ParseResult r, DatasetReadOptions? readOptions = null) where T : Example
    {
        var options = (readOptions ?? new DatasetReadOptions()) with { SkipInvalid = r.GetValue(skipInvalid) };
        IReadOnlyList<T> Load(string path)
        {
            var set = JsonlDatasetReader.Load<T>(path, options);
            dataFiles.Add(path);
            Console.Error.WriteLine($"dataset: {set.Report}");
            return set.Examples;
        }
        return (Load(r.GetValue(train)!), r.GetValue(eval) is { } e ? Load(e) : null);
    }

    /// <summary>Whether --resume was given.</summary>
    public bool Resume(ParseResult r) => r.GetValue(resume);

    /// <summary>
    /// Runs a trainer with a progress bar on stderr (resuming with --resume); Ctrl-C saves a checkpoint and exits. The
    /// run directory then records the data files read (<see cref="TrainingData"/>), so a later safety test can refuse
    /// prompts the model trained on.
    /// </summary>
    public int Run(ParseResult r, string name, ITrainer trainer, CancellationToken cancellation)
    {
        int status = Run(name, trainer, Resume(r), cancellation);
        if (World.IsMain) TrainingData.Record(trainer.Run.Path, dataFiles);
        return status;
    }

    private static int Run(string name, ITrainer trainer, bool resume, CancellationToken cancellation)
    {
        // The other ranks of a data-parallel run train in silence; rank 0 reports for all.
        if (!World.IsMain) return trainer.Train(resume, cancellation).Interrupted ? 130 : 0;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        string ranks = World.IsDistributed ? $" × {World.Size} ranks" : "";
        console.MarkupLine($"[bold]reins {name}[/]: {trainer.Model.Config.Architecture} ({trainer.Model.ParameterCount:N0} parameters), {Engine.Threads} thread(s){ranks} → {Markup.Escape(trainer.Run.Path)}");
        if (trainer.DataReport is { LostRecords: true } report) Console.Error.WriteLine($"{name}: tokenisation: {report} (also in metrics.jsonl at step 0)");
        TrainResult? result = null;
        console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(name);
                result = trainer.Train(resume, cancellation, new SynchronousProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>(p =>
                {
                    task.MaxValue = p.Total;
                    task.Value = p.Step;
                    if (p.Metrics.TryGetValue("loss", out var loss)) task.Description = $"step {p.Step}/{p.Total} loss {loss:F4}";
                }));
            });
        var last = string.Join(", ", result!.LastMetrics.Where(kv => kv.Key is "loss" or "epoch" or "accuracy" or "reward" || kv.Key.StartsWith("rewards/acc", StringComparison.Ordinal)).Select(kv => $"{kv.Key} {kv.Value:G4}"));
        Console.Error.WriteLine(result.Interrupted
            ? $"{name}: interrupted at step {result.Steps}; checkpoint saved — rerun with --resume to continue."
            : $"{name}: {result.Steps} steps ({last}); model and metrics.jsonl in {trainer.Run.Path}");
        return result.Interrupted ? 130 : 0;
    }
}
