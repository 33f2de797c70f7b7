using System.CommandLine;
using System.Diagnostics;
using Reins.Cli.Demo;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Distributed;
using Reins.Tensors.Optim;
using Spectre.Console;

namespace Reins.Cli.Commands;

/// <summary>
/// `reins pretrain`: trains a model of a benchmark preset (tiny by default) on the built-in byte-level corpus,
/// with a progress bar and a falling loss, and saves a Hugging Face checkpoint.
/// </summary>
internal static class PretrainCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Model preset: tiny, small or gpt2.", DefaultValueFactory = _ => "tiny" };
        var steps = new Option<int>("--max-steps") { Description = "Optimiser steps.", DefaultValueFactory = _ => 300 };
        var lr = new Option<float>("--learning-rate") { Description = "Peak learning rate (linear warm-up over 10% of steps, then cosine decay).", DefaultValueFactory = _ => 3e-3f };
        var outDir = new Option<string>("--out") { Description = "Where the checkpoint is written.", DefaultValueFactory = _ => "runs/pretrain" };
        var seed = CommonOptions.Seed();
        var threads = CommonOptions.Threads();
        var anomaly = new Option<bool>("--detect-anomaly") { Description = "Check every op's output and gradient for NaN/Inf and stop at the first op producing one (slower)." };
        var cmd = new Command("pretrain", "Train the built-in tiny model on the built-in corpus (the README's main job until the farm exists).")
            { config, steps, lr, outDir, seed, threads, anomaly };
        cmd.SetAction(r =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            Tape.DetectAnomaly = r.GetValue(anomaly);
            return Run(ModelPreset.Get(r.GetValue(config)!), r.GetValue(steps), r.GetValue(lr), r.GetValue(outDir)!, r.GetValue(seed));
        });
        return cmd;
    }

    private static int Run(ModelPreset preset, int maxSteps, float peakLr, string outDir, ulong seed)
    {
        if (maxSteps <= 0) throw new ArgumentOutOfRangeException(nameof(maxSteps), maxSteps, "--max-steps must be positive.");
        var corpus = TinyCorpus.Generate(1 << 20, seed);
        var model = Models.Transformers.CausalLanguageModel.Create(preset.ToConfig(), seed);
        var opt = new AdamW(model.Parameters, peakLr, weightDecay: 0.1f);
        var schedule = new LearningRateSchedule(ScheduleKind.Cosine, peakLr, maxSteps / 10, maxSteps);
        // Data-parallel under mpirun: each rank draws its own windows (rank 0 those of a single process) and the
        // gradients are averaged, so a step learns from ranks × batch windows.
        var rng = new Rng(seed + 1 + 0x9E3779B97F4A7C15UL * (ulong)World.Rank);
        int b = preset.Batch, t = preset.Context;
        var ids = new int[b * t];
        var targets = new int[b * t];
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(World.IsMain ? Console.Error : TextWriter.Null) });
        string ranks = World.IsDistributed ? $" × {World.Size} ranks" : "";
        console.MarkupLine($"[bold]reins pretrain[/]: {preset.Name} GPT-2 ({model.ParameterCount:N0} parameters), batch {b}×{t} bytes, {maxSteps} steps, {Engine.Threads} thread(s){ranks}");
        var sw = Stopwatch.StartNew();
        float firstLoss = float.NaN, loss = float.NaN;
        console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: maxSteps);
                for (int step = 0; step < maxSteps; step++)
                {
                    // Random windows of the corpus; the target of each byte is the next byte.
                    for (int i = 0; i < b; i++)
                    {
                        int start = rng.NextInt(corpus.Length - t - 1);
                        for (int j = 0; j < t; j++) { ids[i * t + j] = corpus[start + j]; targets[i * t + j] = corpus[start + j + 1]; }
                    }
                    opt.LearningRate = schedule.At(step);
                    using (var tape = new Tape())
                    {
                        var l = model.Loss(new ModelInput(ids, b, t), targets);
                        Span<double> mean = [l.Item() / World.Size];
                        World.Sum(mean);
                        loss = (float)mean[0];
                        opt.ZeroGrad();
                        tape.Backward(l, 1f / World.Size);
                    }
                    opt.SumGradientsAcrossRanks();
                    opt.ClipGradNorm(1.0f);
                    opt.Step();
                    if (step == 0) firstLoss = loss;
                    task.Description = $"step {step + 1}/{maxSteps}  loss {loss:F3}";
                    task.Increment(1);
                }
            });
        if (!World.IsMain) return 0;
        HfCheckpoint.Save(model, outDir);
        double seconds = sw.Elapsed.TotalSeconds;
        console.MarkupLine($"loss {firstLoss:F3} → [green]{loss:F3}[/] in {seconds:F1} s ({(double)maxSteps * b * t * World.Size / seconds:F0} tokens/s); checkpoint: {Path.GetFullPath(outDir)}");
        Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { loss_first = firstLoss, loss_last = loss, seconds = Math.Round(seconds, 1), checkpoint = Path.GetFullPath(outDir) }));
        return 0;
    }
}
