using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.Training;
using Reins.Farm.Evaluation;
using Reins.Farm.Pipeline;
using Reins.Farm.Stages;
using Reins.Farm.Tasks;

namespace Reins.Farm.Tuning;

/// <summary>A method's chosen settings and the mean scores over the development seeds they were tried on.</summary>
/// <param name="Method">The method.</param>
/// <param name="Settings">The chosen combination.</param>
/// <param name="WinRateVsSft">Its mean development win-rate against SFT (what chose it).</param>
/// <param name="GoldReward">Its mean development gold reward (reported only).</param>
/// <param name="Seeds">The development seeds it was tried on (all of them for a winner).</param>
/// <param name="AtGridEdge">
/// The settings of three or more values whose chosen value is the smallest or largest tried: the best may lie beyond
/// the grid, which a reader should know before trusting the choice.
/// </param>
public sealed record TunedMethod(string Method, IReadOnlyDictionary<string, double> Settings, double WinRateVsSft, double GoldReward, int Seeds,
    IReadOnlyList<string> AtGridEdge);

/// <summary>What a tuning run chose: each method's settings, and the config with all of them.</summary>
/// <param name="Config">The base config with every chosen setting in it.</param>
/// <param name="Methods">Each method's choice.</param>
/// <param name="Trials">Every trial, run now or read back from an earlier, interrupted run.</param>
public sealed record TuningOutcome(FarmConfig Config, IReadOnlyList<TunedMethod> Methods, IReadOnlyList<TuningTrial> Trials);

/// <summary>
/// `reins farm tune`: each method's settings searched on development seeds only, as AlpacaFarm tuned every method on its
/// simulator before reporting. For each development seed the shared stages run once (pre-training, SFT, annotation,
/// reward models); each surviving combination of each method (<see cref="SearchSpace"/>) then trains from SFT and is
/// judged by the simulated evaluator pool against SFT on the seed's development prompts — held-out prompts no report
/// evaluates on — and <see cref="SuccessiveHalving"/> promotes the best to the next seed. Gold rewards are recorded,
/// never selected on. Every trial is appended to tune/trials.jsonl as it finishes; a rerun with the same settings reads
/// them back and runs only what is missing, so an interrupted tuning resumes to the same trials.
/// </summary>
/// <param name="task">The task.</param>
/// <param name="config">The config tuned from (its budget, data and model sizes stay as they are).</param>
/// <param name="seeds">The development seeds, one rung each, in order; a test seed is refused.</param>
/// <param name="searches">The methods to tune and their grids (<see cref="SearchSpace.All"/> or a part of it).</param>
/// <param name="outDir">Where the seeds' shared stages and tune/ go.</param>
/// <param name="log">One line per stage and trial.</param>
/// <param name="progress">Each training step, labelled with the trial.</param>
public sealed class FarmTuner(IFarmTask task, FarmConfig config, IReadOnlyList<ulong> seeds, IReadOnlyList<MethodSearch> searches, string outDir, Action<string> log,
    IProgress<FarmProgress>? progress = null)
{
    /// <summary>The directory under the output that holds trials.jsonl, tuning.json and the tuned config.</summary>
    public const string TuneDirectory = "tune";

    /// <summary>Called with each trial once it is written (the CLI prints it).</summary>
    public Action<TuningTrial>? TrialFinished { get; init; }

    /// <summary>Ctrl-C: the trial under way stops at its next step, unrecorded, and the run ends with <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Runs (or resumes) the search and returns what it chose; the tuned config is written to tune/config.json.</summary>
    public TuningOutcome Run()
    {
        if (seeds.Count == 0) throw new ArgumentException("tuning needs at least one development seed.");
        var notDevelopment = seeds.Where(s => config.SplitOf(s) != "dev").ToArray();
        if (notDevelopment.Length > 0)
            throw new ArgumentException($"seed {string.Join(", ", notDevelopment)} is a test seed; tuning reads only the development seeds ({string.Join(", ", config.DevelopmentSeeds)}).");
        if (!config.ReserveDevelopmentPrompts)
            throw new ArgumentException("the config reserves no development prompts (reserve_development_prompts is false), so tuning would select on prompts that reports evaluate on.");

        string dir = Path.GetFullPath(outDir), tune = Path.Combine(dir, TuneDirectory);
        Directory.CreateDirectory(Path.Combine(tune, "metrics"));
        CheckSameTuning(Path.Combine(tune, "tuning.json"));
        string trialsPath = Path.Combine(tune, "trials.jsonl");
        var trials = ReadTrials(trialsPath);
        var done = trials.ToDictionary(t => t.Key);

        var candidates = searches.Select(s => s.Candidates()).ToArray();
        var survivors = candidates.Select(c => (IReadOnlyList<int>)[.. Enumerable.Range(0, c.Count)]).ToArray();
        for (int rung = 0; rung < seeds.Count; rung++)
        {
            ulong seed = seeds[rung];
            SharedStages? shared = null;
            for (int m = 0; m < searches.Count; m++)
                foreach (int c in survivors[m])
                {
                    var settings = candidates[m][c];
                    if (done.ContainsKey((searches[m].Method, MethodSearch.Describe(settings), seed))) continue;
                    Cancellation.ThrowIfCancellationRequested();
                    shared ??= Shared(seed, dir);
                    var trial = RunTrial(shared, searches[m], settings, rung, tune);
                    File.AppendAllText(trialsPath, trial.ToJsonLine() + "\n");
                    trials.Add(trial);
                    done[trial.Key] = trial;
                    TrialFinished?.Invoke(trial);
                }
            if (rung == seeds.Count - 1) break;
            for (int m = 0; m < searches.Count; m++)
                survivors[m] = SuccessiveHalving.Promote([.. survivors[m].Select(c => (c, Mean(done, searches[m].Method, candidates[m][c], rung).Win))]);
        }

        var chosen = new List<TunedMethod>();
        var tuned = config;
        for (int m = 0; m < searches.Count; m++)
        {
            int last = seeds.Count - 1;
            int best = SuccessiveHalving.Best([.. survivors[m].Select(c => (c, Mean(done, searches[m].Method, candidates[m][c], last).Win))]);
            var (win, gold) = Mean(done, searches[m].Method, candidates[m][best], last);
            var edges = searches[m].Dimensions.Where(d => d.Values.Count > 2 && (candidates[m][best][d.Name] == d.Values.Min() || candidates[m][best][d.Name] == d.Values.Max()))
                .Select(d => d.Name).ToArray();
            chosen.Add(new TunedMethod(searches[m].Method, candidates[m][best], win, gold, seeds.Count, edges));
            tuned = searches[m].Apply(tuned, candidates[m][best]);
        }
        RunDirectory.WriteAtomically(Path.Combine(tune, "config.json"), tuned.ToJson() + "\n");
        return new TuningOutcome(tuned, chosen, trials);

        // The mean win-rate and gold of a combination over the seeds of rungs 0..rung.
        (double Win, double Gold) Mean(Dictionary<(string, string, ulong), TuningTrial> done, string method, IReadOnlyDictionary<string, double> settings, int rung)
        {
            var rows = seeds.Take(rung + 1).Select(s => done[(method, MethodSearch.Describe(settings), s)]).ToArray();
            return (rows.Average(t => t.WinRateVsSft), rows.Average(t => t.GoldReward));
        }
    }

    // The shared stages of a seed, from scratch: a trainer would otherwise resume from what an interrupted run left.
    private SharedStages Shared(ulong seed, string dir)
    {
        string seedDir = Path.Combine(dir, $"seed-{seed}");
        if (Directory.Exists(Path.Combine(seedDir, "runs"))) Directory.Delete(Path.Combine(seedDir, "runs"), recursive: true);
        log($"seed {seed}: shared stages");
        return SharedStages.Run(task, config, seed, seedDir, line => log($"seed {seed}: {line}"), progress, Cancellation);
    }

    private TuningTrial RunTrial(SharedStages shared, MethodSearch search, IReadOnlyDictionary<string, double> settings, int rung, string tune)
    {
        var timer = Stopwatch.StartNew();
        var trialConfig = search.Apply(config, settings);
        ulong seed = shared.Farm.Seed;
        string label = $"{search.Method} {MethodSearch.Describe(settings)} (seed {seed})";
        var relabelled = progress is null ? null : new SynchronousProgress<FarmProgress>(p => progress.Report(p with { Stage = label }));
        var farm = new FarmContext(task, trialConfig, seed, shared.Farm.OutDir, shared.Farm.Tokenizer, log, relabelled, Cancellation);
        var method = PolicyMethods.All.Single(p => p.Name == search.Method);
        string runDir = farm.RunDir(method.Name);
        if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);

        var prompts = task.Prompts(FarmSplit.Development, trialConfig.EvalPrompts, seed + trialConfig.Seeds.EvalPrompts);
        var evaluation = new MethodEvaluation(farm, prompts, shared.Proxy, shared.Evaluators());
        evaluation.AddSft(farm.LoadSft(), 0);
        evaluation.AddPolicy(method.Name, method.Train(farm, shared.Inputs), timer);
        var row = evaluation.Results().Single(r => r.Name == method.Name);

        string id = $"{search.Method}-{string.Join("-", settings.Values.Select(v => v.ToString("R")))}-seed{seed}";
        File.Copy(Path.Combine(runDir, "metrics.jsonl"), Path.Combine(tune, "metrics", id + ".jsonl"), overwrite: true);
        Directory.Delete(runDir, recursive: true);
        return new TuningTrial(search.Method, settings, seed, rung, "dev", row.WinRateVsSft, row.WinRateVsSftCi!, row.GoldReward, row.ProxyReward, row.KlToSft,
            row.Samples ?? 0, Math.Round(timer.Elapsed.TotalSeconds, 1));
    }

    // A directory holds one tuning: resuming with another task, config, seeds or methods would mix trials of two searches.
    private void CheckSameTuning(string path)
    {
        var header = new JsonObject
        {
            ["task"] = task.Name, ["seeds"] = new JsonArray([.. seeds.Select(s => JsonValue.Create(s))]),
            ["methods"] = new JsonArray([.. searches.Select(m => new JsonObject
            {
                ["method"] = m.Method, ["grid"] = new JsonObject([.. m.Dimensions.Select(d => KeyValuePair.Create(d.Name, (JsonNode?)new JsonArray([.. d.Values.Select(v => JsonValue.Create(v))])))]),
            })]),
            ["eta"] = SuccessiveHalving.Eta,
            ["config"] = JsonNode.Parse(config.ToJson()),
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        if (File.Exists(path) && File.ReadAllText(path) != header)
            throw new InvalidOperationException($"{path}: this directory holds a tuning with another task, config, seeds or methods; give another --out or remove it.");
        RunDirectory.WriteAtomically(path, header);
    }

    // trials.jsonl as an interrupted run left it: every complete line; a last line cut off mid-write is dropped, said so,
    // and the file rewritten without it.
    private List<TuningTrial> ReadTrials(string path)
    {
        if (!File.Exists(path)) return [];
        string text = File.ReadAllText(path);
        var lines = text.Split('\n');
        var trials = new List<TuningTrial>();
        var lineOf = new Dictionary<(string, string, ulong), int>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            TuningTrial trial;
            try { trial = TuningTrial.FromJsonLine(lines[i]); }
            catch (JsonException e) when (i == lines.Length - 1)
            {
                log($"{path}: line {i + 1} was cut off by an interruption ({e.Message}); that trial runs again.");
                RunDirectory.WriteAtomically(path, string.Concat(lines[..i].Where(l => l.Length > 0).Select(l => l + "\n")));
                break;
            }
            catch (JsonException e) { throw new InvalidDataException($"{path}: line {i + 1}: not a trial: {e.Message}"); }
            // Two results for one trial would leave the search to pick one silently.
            if (!lineOf.TryAdd(trial.Key, i + 1))
                throw new InvalidDataException($"{path}: line {i + 1}: the same trial ({trial.Method} {MethodSearch.Describe(trial.Settings)}, seed {trial.Seed}) as line {lineOf[trial.Key]}.");
            trials.Add(trial);
        }
        if (trials.Count > 0) log($"resuming: {trials.Count} trials already in {path}");
        return trials;
    }
}
