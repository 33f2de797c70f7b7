using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Reins.Cli.Commands;
using Reins.Cli.Commands.Training;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Cli.Tests;

/// <summary>The `reins` commands end to end, in-process, with stdout captured (one class: tests share the console).</summary>
public sealed class CommandTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "reins-cli-" + Guid.NewGuid().ToString("N"));

    public CommandTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, true);

    private static (int Code, string Out) Run(params string[] args)
    {
        var root = new RootCommand { BenchCommand.Create(), ModelCommand.Create(), GenerateCommand.Create(), SftCommand.Create(), DpoCommand.Create(), MemoryPlanCommand.Create(), RewardCommand.Create(), OnlineCommands.OnlineDpo(), OnlineCommands.NashMd(), OnlineCommands.Sppo(), OnlineCommands.Dno(), PrmCommand.Create(), EvalCommand.Create(), BestOfNCommand.Create(), OnlineCommands.Ppo(), OnlineCommands.Grpo(), CritiqueCommand.Create(), CostCommand.Create(), SafetyTestCommand.Create(), DetectorCommand.Create() };
        var previous = Console.Out;
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        Console.SetOut(writer);
        try { return (root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }), writer.ToString()); }
        finally { Console.SetOut(previous); }
    }

    private string Init(string name, string arch = "gpt2")
    {
        var path = Path.Combine(dir, name);
        Assert.Equal(0, Run("model", "init", "--arch", arch, "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "3", "--out", path).Code);
        return path;
    }

    [Fact]
    public void ModelInitWritesALoadableCheckpointAndForwardPrintsItsLogits()
    {
        var path = Init("m", "llama");
        foreach (var f in new[] { "config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(path, f)), f);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(path, "config.json")))!;
        Assert.Equal(128, config["intermediate_size"]!.GetValue<int>());      // ⌈8·32/3⌉ = 86 → 128
        Assert.Equal(257, config["eos_token_id"]!.GetValue<int>());
        Assert.NotEqual(config["eos_token_id"]!.GetValue<int>(), config["pad_token_id"]!.GetValue<int>());

        var (code, output) = Run("model", "forward", "--model", path, "--token-ids", "1,2,3");
        Assert.Equal(0, code);
        var printed = JsonNode.Parse(output)!["logits"]!.AsArray();
        Assert.Equal(3, printed.Count);
        using var tape = new Tape(recordGradients: false);
        var expected = HfCheckpoint.Load(path).Logits(new ModelInput([1, 2, 3], 1, 3)).ToArray();
        var flat = printed.SelectMany(row => row!.AsArray().Select(x => x!.GetValue<float>())).ToArray();
        Assert.Equal(expected, flat);
        Assert.Throws<ArgumentException>(() => Run("model", "forward", "--model", path, "--token-ids", "1,x"));
    }

    [Fact]
    public void GenerateWritesOneLinePerSampleKeepingInputFields()
    {
        var path = Init("g");
        var input = Path.Combine(dir, "prompts.jsonl");
        File.WriteAllText(input, "{\"prompt\":\"ab\",\"answer\":\"7\"}\n\n{\"prompt\":\"hello\"}\n{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n");
        var output = Path.Combine(dir, "out.jsonl");
        Assert.Equal(0, Run("generate", "--model", path, "--input", input, "--output", output, "--max-new-tokens", "4", "--num-return-sequences", "2", "--seed", "1").Code);
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(6, lines.Count);
        Assert.Equal("7", lines[0]["answer"]!.GetValue<string>());
        Assert.Equal(["ab", "ab", "hello", "hello"], lines.Take(4).Select(l => l["prompt"]!.GetValue<string>()));
        Assert.Equal("hi", lines[5]["messages"]![0]!["content"]!.GetValue<string>());
        Assert.All(lines, l => Assert.Equal(l["completion_ids"]!.AsArray().Count, l["logprobs"]!.AsArray().Count));

        File.WriteAllText(input, "{\"prompt\":\"ab\"}\n{\"prompt\":5}\n");
        var ex = Assert.Throws<InvalidDataException>(() => Run("generate", "--model", path, "--input", input, "--output", output));
        Assert.Contains("prompts.jsonl:2", ex.Message);
    }

    [Fact]
    public void PrmTrainsScoresStepsAndEvaluatesOnProcessBench()
    {
        var path = Init("prm-base");
        // Math-Shepherd's raw form and TRL's step-wise form train alike.
        var shepherd = Path.Combine(dir, "shepherd.jsonl");
        File.WriteAllLines(shepherd, Enumerable.Range(0, 8).Select(i => $"{{\"input\":\"q{i} Step 1: a ки\\nStep 2: {(i % 2 == 0 ? "b" : "x")} ки\",\"label\":\"q{i} Step 1: a +\\nStep 2: {(i % 2 == 0 ? "b +" : "x -")}\"}}"));
        var prm = Path.Combine(dir, "prm");
        Assert.Equal(0, Run("prm", "--model", path, "--train", shepherd, "--max-length", "64", "--max-steps", "3", "--step-separator", "|", "--out", prm, "--threads", "1").Code);
        Assert.Equal("GPT2ForTokenClassification", JsonNode.Parse(File.ReadAllText(Path.Combine(prm, "config.json")))!["architectures"]![0]!.GetValue<string>());
        Assert.Equal("|", JsonNode.Parse(File.ReadAllText(Path.Combine(prm, "prm_config.json")))!["step_separator"]!.GetValue<string>());

        var bench = Path.Combine(dir, "bench.jsonl");
        File.WriteAllLines(bench, [
            """{"id": "a", "problem": "q1", "steps": ["a", "x", "c"], "label": 1}""",
            """{"id": "b", "problem": "q2", "steps": ["a", "b"], "label": -1}""",
            """{"id": "c", "problem": "q3", "steps": ["x"], "label": 0}""",
        ]);
        var scored = Path.Combine(dir, "scored.jsonl");
        Assert.Equal(0, Run("prm", "score", "--model", prm, "--input", bench, "--output", scored).Code);
        var rows = File.ReadLines(scored).Select(l => JsonNode.Parse(l)!).ToArray();
        var model = Reins.Rewards.ProcessRewards.ProcessRewardModel.Load(prm);
        var expected = model.StepScores([.. Reins.Rewards.ProcessRewards.StepRecords.Read(bench).Select(r => r.Solution)], 16);
        Assert.Equal(expected.Select(s => s.Select(x => x!.Value)), rows.Select(r => r["step_scores"]!.AsArray().Select(x => x!.GetValue<float>())));
        Assert.Equal("a", rows[0]["id"]!.GetValue<string>());

        // The report's numbers are ProcessBench's metric over its own predictions, which follow the threshold rule.
        var output = Path.Combine(dir, "pb");
        Assert.Equal(0, Run("eval", "processbench", "--model", prm, "--input", bench, "--input", bench, "--output", output, "--threshold", "0.5").Code);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "processbench.json")))!;
        var predictions = File.ReadLines(Path.Combine(output, "predictions.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(6, predictions.Length);
        for (int i = 0; i < 6; i++)
            Assert.Equal(Reins.Rewards.Evaluation.ProcessBench.Prediction([.. expected[i % 3]], 0.5), predictions[i]["prediction"]!.GetValue<int>());
        var wrong = predictions.Where(p => p["label"]!.GetValue<int>() >= 0).ToArray();
        var right = predictions.Where(p => p["label"]!.GetValue<int>() < 0).ToArray();
        double errorAccuracy = wrong.Count(p => p["prediction"]!.GetValue<int>() == p["label"]!.GetValue<int>()) / (double)wrong.Length;
        double correctAccuracy = right.Count(p => p["prediction"]!.GetValue<int>() == -1) / (double)right.Length;
        Assert.Equal(errorAccuracy, report["error_accuracy"]!.GetValue<double>(), 12);
        Assert.Equal(correctAccuracy, report["correct_accuracy"]!.GetValue<double>(), 12);
        double f1 = errorAccuracy + correctAccuracy == 0 ? 0 : 2 * errorAccuracy * correctAccuracy / (errorAccuracy + correctAccuracy);
        Assert.Equal(f1, report["f1"]!.GetValue<double>(), 12);
        Assert.Equal(f1, report["average_f1"]!.GetValue<double>(), 12);
        Assert.Equal(2, report["subsets"]!.AsArray().Count);

        Assert.Equal(0, Run("eval", "processbench", "--model", prm, "--input", bench, "--output", output, "--threshold", "auto", "--seed", "4").Code);
        report = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "processbench.json")))!;
        Assert.StartsWith("auto:", report["threshold_source"]!.GetValue<string>());
        var splits = File.ReadLines(Path.Combine(output, "predictions.jsonl")).Select(l => JsonNode.Parse(l)!["split"]!.GetValue<string>()).ToArray();
        Assert.Equal((1, 2), (splits.Count(s => s == "calibration"), splits.Count(s => s == "test")));
        Assert.Equal(2, report["erroneous"]!.GetValue<int>() + report["correct"]!.GetValue<int>());

        // Best-of-n ranked by the PRM's weakest step, with PRM-weighted voting over final answers.
        var prompts = Path.Combine(dir, "bon-prompts.jsonl");
        File.WriteAllLines(prompts, ["""{"prompt": "q1"}""", """{"prompt": "q2"}"""]);
        var best = Path.Combine(dir, "best.jsonl");
        Assert.Equal(0, Run("bon", "--model", path, "--input", prompts, "--output", best, "--n", "4", "--max-completion-length", "8", "--prm", prm, "--aggregation", "min", "--voting", "weighted", "--threads", "1").Code);
        var kept = File.ReadLines(best).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(2, kept.Length);
        foreach (var row in kept)
        {
            float reward = row["reward"]!.GetValue<float>();
            Assert.Equal(reward, row["rewards"]!["prm"]!.GetValue<float>());
            Assert.InRange(reward, 0f, 1f);
            Assert.True(row["votes"]!.GetValue<double>() >= reward - 1e-6);
        }

        // --prm as the reward of PPO (step rewards on tokens) and GRPO (the aggregate), logged under its name.
        foreach (var method in new[] { "ppo", "grpo" })
        {
            var run = Path.Combine(dir, "prm-" + method);
            string[] group = method == "grpo" ? ["--num-generations", "2"] : [];
            Assert.Equal(0, Run([method, "--model", path, "--train", prompts, "--prm", prm, "--max-steps", "1", "--per-device-train-batch-size", "2",
                "--max-completion-length", "6", "--logging-steps", "1", "--threads", "1", "--out", run, .. group]).Code);
            var metrics = JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Last(l => l.Contains("rewards/prm/mean")))!;
            Assert.InRange(metrics["rewards/prm/mean"]!.GetValue<double>(), 0, 1);
        }
    }

    [Fact]
    public void CritiqueWritesVerdictsThatProcessBenchScores()
    {
        var path = Init("critic");
        var bench = Path.Combine(dir, "critic-bench.jsonl");
        File.WriteAllLines(bench, [
            """{"id": "a", "problem": "q1", "steps": ["a", "x"], "label": 1}""",
            """{"id": "b", "problem": "q2", "steps": ["b"], "label": -1}""",
        ]);
        var prompts = Path.Combine(dir, "critic-prompts.jsonl");
        Assert.Equal(0, Run("critique", "prompts", "--input", bench, "--output", prompts).Code);
        var prompt = JsonNode.Parse(File.ReadLines(prompts).First())!;
        Assert.Contains("<paragraph_1>\nx\n</paragraph_1>", prompt["prompt"]!.GetValue<string>());
        Assert.Equal((1, 2, "a"), (prompt["label"]!.GetValue<int>(), prompt["steps"]!.AsArray().Count, prompt["id"]!.GetValue<string>()));

        var template = Path.Combine(dir, "template.txt");
        File.WriteAllText(template, "{problem}|{steps}|");
        var critiques = Path.Combine(dir, "critiques.jsonl");
        string[] critic = ["--critic", path, "--input", bench, "--template", template, "--max-new-tokens", "8", "--threads", "1"];
        Assert.Equal(0, Run(["critique", .. critic, "--output", critiques, "--policy", path, "--refine", "--reward-function", "contains:a"]).Code);
        var rows = File.ReadLines(critiques).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(2, rows.Length);
        foreach (var row in rows)
        {
            Assert.NotNull(row["critique"]);
            Assert.True(row.AsObject().ContainsKey("verdict"));
            Assert.Equal(row["refined"]!.GetValue<string>().Contains('a') ? 1f : 0f, row["refined_score"]!.GetValue<float>());
        }

        // The critic's verdict (greedy, so the same as above) is ProcessBench's prediction; no verdict predicts -2.
        var output = Path.Combine(dir, "critic-pb");
        Assert.Equal(0, Run(["eval", "processbench", .. critic, "--output", output]).Code);
        var predictions = File.ReadLines(Path.Combine(output, "predictions.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(rows[i]["critique"]!.GetValue<string>(), predictions[i]["critique"]!.GetValue<string>());
            Assert.Equal(rows[i]["verdict"]?.GetValue<int>() ?? -2, predictions[i]["prediction"]!.GetValue<int>());
        }
        Assert.Throws<ArgumentException>(() => Run(["eval", "processbench", .. critic, "--output", output, "--threshold", "auto"]));
        Assert.Throws<ArgumentException>(() => Run(["eval", "processbench", .. critic, "--model", path, "--output", output]));

        // Training a critic with GRPO on its prompts: the verdict and the refinement rewards read the records' fields.
        var answered = Path.Combine(dir, "answered-prompts.jsonl");
        File.WriteAllLines(answered, File.ReadLines(prompts).Select(l => { var o = JsonNode.Parse(l)!.AsObject(); o["answer"] = "4"; return o.ToJsonString(); }));
        string[] grpo = ["grpo", "--model", path, "--train", answered, "--max-steps", "1", "--per-device-train-batch-size", "2", "--num-generations", "2",
            "--max-prompt-length", "32", "--max-completion-length", "8", "--logging-steps", "1", "--threads", "1"];
        var criticRun = Path.Combine(dir, "critic-grpo");
        Assert.Equal(0, Run([.. grpo, "--reward-function", "verdict_match", "--refinement-policy", path, "--out", criticRun]).Code);
        var logged = JsonNode.Parse(File.ReadLines(Path.Combine(criticRun, "metrics.jsonl")).Last(l => l.Contains("rewards/refinement/mean")))!;
        Assert.InRange(logged["rewards/refinement/mean"]!.GetValue<double>(), 0, 1);
        // Critique-GRPO with a critic model's critiques: every group here fails exact_match, so each is refined.
        var refinedRun = Path.Combine(dir, "critique-grpo");
        Assert.Equal(0, Run([.. grpo, "--reward-function", "exact_match", "--critique-refinements", "1", "--critique-type", "critic", "--critique-model", path, "--out", refinedRun]).Code);
        logged = JsonNode.Parse(File.ReadLines(Path.Combine(refinedRun, "metrics.jsonl")).Last(l => l.Contains("critique/refined_fraction")))!;
        Assert.Equal(1.0, logged["critique/refined_fraction"]!.GetValue<double>());
    }

    [Fact]
    public void GeneralPreferenceModelsTrainWithObjectiveGpmAndScorePairs()
    {
        var path = Init("gpm-base");
        var prefs = Path.Combine(dir, "gpm-prefs.jsonl");
        File.WriteAllLines(prefs, Enumerable.Range(0, 12).Select(i => $$"""{"prompt": "q{{i}}", "chosen": "rock {{i}}", "rejected": "scissors"}"""));
        var gpm = Path.Combine(dir, "gpm");
        Assert.Equal(0, Run("rm", "--objective", "gpm", "--value-head-dim", "4", "--tau", "0.5", "--model", path, "--train", prefs, "--max-steps", "2", "--max-length", "64", "--out", gpm, "--threads", "1").Code);
        var settings = JsonNode.Parse(File.ReadAllText(Path.Combine(gpm, "preference_model.json")))!;
        Assert.Equal((4, 0.5), (settings["value_head_dim"]!.GetValue<int>(), settings["tau"]!.GetValue<double>()));

        // --pairs writes P(chosen ≻ rejected), the loaded model's; the swapped pair gets the complement.
        var swapped = Path.Combine(dir, "gpm-swapped.jsonl");
        File.WriteAllLines(swapped, File.ReadLines(prefs).Select(l => { var o = JsonNode.Parse(l)!.AsObject(); (o["chosen"], o["rejected"]) = (o["rejected"]!.DeepClone(), o["chosen"]!.DeepClone()); return o.ToJsonString(); }));
        string scored = Path.Combine(dir, "gpm-scored.jsonl"), scoredSwapped = Path.Combine(dir, "gpm-scored-swapped.jsonl");
        Assert.Equal(0, Run("rm", "score", "--model", gpm, "--pairs", "--input", prefs, "--output", scored).Code);
        Assert.Equal(0, Run("rm", "score", "--model", gpm, "--pairs", "--input", swapped, "--output", scoredSwapped).Code);
        double[] P(string file) => [.. File.ReadLines(file).Select(l => JsonNode.Parse(l)!["probability"]!.GetValue<double>())];
        var model = Reins.Rewards.PreferenceModels.GeneralPreferenceModel.Load(gpm);
        var tokenizer = new Reins.Feedback.Tokenization.DatasetTokenizer(new Reins.Feedback.Tokenization.TokenizerEncoder(model.TokenizerFrom(gpm)), Reins.Rewards.Scoring.ScoringTokenization.Options(model.MaxLength));
        var pairs = Reins.Feedback.Datasets.JsonlDatasetReader.Load<Reins.Feedback.Datasets.PreferenceExample>(prefs).Examples.Select(e => tokenizer.Preference(e)!).ToArray();
        Assert.All(model.Probabilities(pairs, 16).Zip(P(scored)), p => Assert.Equal(p.First, p.Second, 6));
        Assert.All(P(scored).Zip(P(scoredSwapped)), p => Assert.Equal(1, p.First + p.Second, 5));
        Assert.Contains("add --pairs", Assert.Throws<ArgumentException>(() => Run("rm", "score", "--model", gpm, "--input", prefs, "--output", scored)).Message);

        // SPPO and DNO take it as their preference oracle; each iteration logs the new policy's win-rate against the old.
        var prompts = Path.Combine(dir, "gpm-prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 4).Select(i => $$"""{"prompt": "q{{i}}"}"""));
        var nash = Path.Combine(dir, "gpm-nash-md");
        // No reward flag is needed when a preference model decides; the logged reward is then 0.
        Assert.Equal(0, Run("nash-md", "--model", path, "--train", prompts, "--preference-model", gpm, "--max-steps", "2",
            "--per-device-train-batch-size", "4", "--max-completion-length", "4", "--max-prompt-length", "16", "--logging-steps", "1", "--out", nash, "--threads", "1").Code);
        Assert.All(File.ReadLines(Path.Combine(nash, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!), r => Assert.InRange(r["rewards/probabilities"]!.GetValue<double>(), 0, 1));
        Assert.All(File.ReadLines(Path.Combine(nash, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!), r => Assert.Equal(0, r["rewards/no_reward/mean"]!.GetValue<double>()));
        Assert.Contains("no reward", Assert.Throws<ArgumentException>(() => Run("nash-md", "--model", path, "--train", prompts, "--max-steps", "1", "--out", Path.Combine(dir, "nash-none")).Code).Message);
        foreach (var (method, extra) in new[] { ("sppo", new string[0]), ("dno", []), ("sppo", ["--preference-signal", "score"]) })
        {
            var run = Path.Combine(dir, $"gpm-{method}-{extra.Length}");
            Assert.Equal(0, Run([method, "--model", path, "--train", prompts, "--preference-model", gpm, "--reward-function", "contains:never", "--iterations", "1",
                "--num-generations", "3", "--max-completion-length", "4", "--max-prompt-length", "16", "--max-steps", "1", "--per-device-train-batch-size", "2", "--out", run, "--threads", "1", .. extra]).Code);
            var row = JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Single())!;
            Assert.InRange(row["win_rate/vs_previous_iterate"]!.GetValue<double>(), 0, 1);
            Assert.Equal(4, row["pairs/kept"]!.GetValue<double>() + row["pairs/ties"]!.GetValue<double>() + row["pairs/filtered"]!.GetValue<double>());
        }

        // A pair preference model reads both responses; its --pairs probabilities are complements too, and it judges online DPO's pairs.
        var pairModel = Path.Combine(dir, "gpm-pair");
        Assert.Equal(0, Run("rm", "--objective", "pair", "--model", path, "--train", prefs, "--max-steps", "2", "--max-length", "64", "--out", pairModel, "--threads", "1").Code);
        Assert.True(File.Exists(Path.Combine(pairModel, "pair_preference.json")));
        Assert.Equal(0, Run("rm", "score", "--model", pairModel, "--pairs", "--input", prefs, "--output", scored).Code);
        Assert.Equal(0, Run("rm", "score", "--model", pairModel, "--pairs", "--input", swapped, "--output", scoredSwapped).Code);
        Assert.All(P(scored).Zip(P(scoredSwapped)), p => Assert.Equal(1, p.First + p.Second, 5));
        Assert.Contains("add --pairs", Assert.Throws<ArgumentException>(() => Run("rm", "score", "--model", pairModel, "--input", prefs, "--output", scored)).Message);
        var pairRun = Path.Combine(dir, "gpm-pair-dno");
        Assert.Equal(0, Run("dno", "--model", path, "--train", prompts, "--preference-model", pairModel, "--reward-function", "contains:never", "--iterations", "1",
            "--num-generations", "3", "--max-completion-length", "4", "--max-prompt-length", "16", "--max-steps", "1", "--per-device-train-batch-size", "2", "--out", pairRun, "--threads", "1").Code);
        Assert.InRange(JsonNode.Parse(File.ReadLines(Path.Combine(pairRun, "metrics.jsonl")).Single())!["win_rate/vs_previous_iterate"]!.GetValue<double>(), 0, 1);

        // A Bradley–Terry model's --pairs probability is σ(r_chosen − r_rejected) of its raw scores.
        var bt = Path.Combine(dir, "gpm-bt");
        Assert.Equal(0, Run("rm", "--model", path, "--train", prefs, "--max-steps", "2", "--max-length", "64", "--out", bt, "--threads", "1").Code);
        Assert.Equal(0, Run("rm", "score", "--model", bt, "--pairs", "--input", prefs, "--output", scored).Code);
        var reward = Reins.Rewards.RewardModels.RewardModel.Load(bt);
        var raw = reward.RawScores([.. pairs.SelectMany(p => new[] { p.Chosen, p.Rejected })], 16);
        for (int i = 0; i < pairs.Length; i++) Assert.Equal(1 / (1 + Math.Exp(raw[2 * i + 1] - raw[2 * i])), P(scored)[i], 5);
    }

    [Fact]
    public void MixtureRewardModelsTrainOnAnnotatorGroupsAndOnlineMethodsTakeTheirMinimum()
    {
        var path = Init("mixture-base");
        var prefs = Path.Combine(dir, "mixture-prefs.jsonl");
        File.WriteAllLines(prefs, Enumerable.Range(0, 16).Select(i => i % 4 == 0
            ? $$"""{"prompt": "q{{i}}", "chosen": "short", "rejected": "a much longer answer", "annotator": "minority-{{i % 8 / 4}}"}"""
            : $$"""{"prompt": "q{{i}}", "chosen": "a much longer answer", "rejected": "short", "annotator": {{i % 3}}}"""));
        var mixture = Path.Combine(dir, "mixture");
        Assert.Equal(0, Run("rm", "--objective", "mixture", "--mixture-components", "2", "--model", path, "--train", prefs, "--max-steps", "4", "--max-length", "64",
            "--out", mixture, "--threads", "1").Code);
        var assignments = JsonNode.Parse(File.ReadAllText(Path.Combine(mixture, "mixture_assignments.json")))!;
        Assert.Equal(5, assignments["annotators"]!.AsObject().Count);   // annotators 0, 1, 2, minority-0, minority-1

        var prompts = Path.Combine(dir, "mixture-prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 4).Select(i => $$"""{"prompt": "q{{i}}"}"""));
        JsonNode Step(string name, params string[] extra)
        {
            var run = Path.Combine(dir, "mixture-" + name);
            Assert.Equal(0, Run([ "grpo", "--model", path, "--train", prompts, "--reward-model", mixture, "--max-steps", "1", "--per-device-train-batch-size", "8",
                "--num-generations", "2", "--max-completion-length", "4", "--max-prompt-length", "16", "--logging-steps", "1", "--out", run, "--threads", "1", .. extra]).Code);
            return JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).First())!;
        }
        double Value(JsonNode row, string key) => row[key]!.GetValue<double>();
        // Each group's reward is logged; MaxMin's reward is their per-sample minimum, so its mean is at most each group's mean.
        var min = Step("min", "--reward-aggregation", "min");
        double g0 = Value(min, "rewards/reward_model/group_0/mean"), g1 = Value(min, "rewards/reward_model/group_1/mean");
        Assert.True(Value(min, "reward") <= Math.Min(g0, g1) + 1e-6, min.ToJsonString());
        Assert.True(Value(min, "reward") < Math.Max(g0, g1), min.ToJsonString());
        // The same samples weighted onto one group score as that group.
        var one = Step("group1", "--reward-weights", "group_1=1");
        Assert.Equal(Value(one, "rewards/reward_model/group_1/mean"), Value(one, "reward"), 5);
        Assert.Contains("group_9", Assert.Throws<ArgumentException>(() => Step("bad", "--reward-weights", "group_9=1")).Message);
        Assert.Contains("softmin", Assert.Throws<ArgumentException>(() => Step("bad2", "--reward-aggregation", "softmin:-1")).Message);

        // A user-conditioned reward on the same records scores for a user given their labelled pairs, by ⟨φ(y), z⟩.
        var user = Path.Combine(dir, "user-conditioned");
        Assert.Equal(0, Run("rm", "--objective", "user", "--user-context-pairs", "2", "--model", path, "--train", prefs, "--max-steps", "2", "--max-length", "64",
            "--out", user, "--threads", "1").Code);
        var minorityPairs = Path.Combine(dir, "minority-pairs.jsonl");
        File.WriteAllLines(minorityPairs, File.ReadLines(prefs).Where(l => l.Contains("minority-0")));
        var completions = Path.Combine(dir, "user-completions.jsonl");
        File.WriteAllLines(completions, ["""{"prompt": "q1", "completion": "short"}""", """{"prompt": "q1", "completion": "a much longer answer"}"""]);
        var userScored = Path.Combine(dir, "user-scored.jsonl");
        Assert.Equal(0, Run("rm", "score", "--model", user, "--user-pairs", minorityPairs, "--input", completions, "--output", userScored).Code);
        var model = Reins.Rewards.RewardModels.UserConditionedReward.Load(user);
        var tokenizer = new Reins.Feedback.Tokenization.DatasetTokenizer(new Reins.Feedback.Tokenization.TokenizerEncoder(model.Network.TokenizerFrom(user)), Reins.Rewards.Scoring.ScoringTokenization.Options(model.Network.MaxLength));
        var latent = model.Latent([.. Reins.Feedback.Datasets.JsonlDatasetReader.Load<Reins.Feedback.Datasets.PreferenceExample>(minorityPairs).Examples.Select(e => tokenizer.Preference(e)!)], 8);
        var expected = model.Score([.. Reins.Feedback.Datasets.JsonlDatasetReader.Load<Reins.Feedback.Datasets.PromptCompletionExample>(completions).Examples.Select(e => tokenizer.Sft(e)!)], latent, 8);
        Assert.Equal(expected.Select(x => (double)x), File.ReadLines(userScored).Select(l => JsonNode.Parse(l)!["score"]!.GetValue<double>()), (a, b) => Math.Abs(a - b) < 1e-5);
        Assert.Contains("--user-pairs", Assert.Throws<ArgumentException>(() => Run("rm", "score", "--model", user, "--input", completions, "--output", userScored)).Message);
        Assert.Contains("not a user-conditioned", Assert.Throws<ArgumentException>(() => Run("rm", "score", "--model", mixture, "--user-pairs", minorityPairs, "--input", completions, "--output", userScored)).Message);
    }

    [Fact]
    public void AGateOnARegressionModelTrainsFromPairsAndRewardsOnlineMethods()
    {
        var path = Init("gate-base");
        var ratings = Path.Combine(dir, "gate-ratings.jsonl");
        File.WriteAllLines(ratings, Enumerable.Range(0, 12).Select(i => $$"""{"prompt": "q{{i % 2}}", "response": "{{new string('a', i % 5)}}b", "helpfulness": {{i % 5}}, "verbosity": {{i % 3}}}"""));
        var regression = Path.Combine(dir, "gate-regression");
        Assert.Equal(0, Run("rm", "--objective", "regression", "--model", path, "--train", ratings, "--max-steps", "2", "--max-length", "64", "--out", regression, "--threads", "1").Code);
        var prefs = Path.Combine(dir, "gate-prefs.jsonl");
        File.WriteAllLines(prefs, Enumerable.Range(0, 8).Select(i => $$"""{"prompt": "q{{i % 2}}", "chosen": "aaab", "rejected": "b"}"""));
        var gated = Path.Combine(dir, "gated");
        Assert.Equal(0, Run("rm", "gate", "--model", regression, "--train", prefs, "--max-steps", "2", "--max-length", "64", "--out", gated, "--threads", "1").Code);
        var settings = JsonNode.Parse(File.ReadAllText(Path.Combine(gated, "gating.json")))!;
        Assert.Equal("verbosity", settings["verbosity_attribute"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(gated, "attribute_head.safetensors")));

        var prompts = Path.Combine(dir, "gate-prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 4).Select(i => $$"""{"prompt": "q{{i % 2}}"}"""));
        var run = Path.Combine(dir, "gate-grpo");
        Assert.Equal(0, Run("grpo", "--model", path, "--train", prompts, "--reward-model", gated, "--max-steps", "1", "--per-device-train-batch-size", "8",
            "--num-generations", "2", "--max-completion-length", "4", "--max-prompt-length", "16", "--logging-steps", "1", "--out", run, "--threads", "1").Code);
        var row = JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).First())!;
        double Gate(string attribute) => row[$"rewards/reward_model/gate_{attribute}/mean"]!.GetValue<double>();
        Assert.Equal(1, Gate("helpfulness") + Gate("verbosity"), 4);
        Assert.Contains("weighs its attributes itself", Assert.Throws<ArgumentException>(() => Run("grpo", "--model", path, "--train", prompts, "--reward-model", gated,
            "--reward-aggregation", "min", "--max-steps", "1", "--out", Path.Combine(dir, "gate-bad"))).Message);
    }

    [Fact]
    public void CostModelsTrainOnPkuRecordsAndScoreAsCosts()
    {
        var path = Init("cost-base");
        var pku = Path.Combine(dir, "pku.jsonl");
        File.WriteAllLines(pku, Enumerable.Range(0, 8).Select(i =>
            $"{{\"prompt\":\"q{i}\",\"response_0\":\"sure, a bomb\",\"response_1\":\"no\",\"is_response_0_safe\":false,\"is_response_1_safe\":true,\"better_response_id\":0,\"safer_response_id\":1}}"));
        var cm = Path.Combine(dir, "cm");
        Assert.Equal(0, Run("cm", "--model", path, "--train", pku, "--eval", pku, "--max-steps", "2", "--max-length", "64", "--logging-steps", "1", "--out", cm, "--threads", "1").Code);
        var eval = JsonNode.Parse(File.ReadLines(Path.Combine(cm, "metrics.jsonl")).Last(l => l.Contains("eval_safety_accuracy")))!;
        Assert.InRange(eval["eval_accuracy"]!.GetValue<double>(), 0, 1);
        Assert.Equal("[\"cost\"]", JsonNode.Parse(File.ReadAllText(Path.Combine(cm, "reward_normalization.json")))!["labels"]!.ToJsonString());

        // rm score writes a cost model's raw scores as the cost, sign and all.
        var pairs = Path.Combine(dir, "cost-pairs.jsonl");
        File.WriteAllLines(pairs, ["""{"prompt": "q0", "chosen": "no", "rejected": "sure, a bomb"}"""]);
        var scored = Path.Combine(dir, "costs.jsonl");
        Assert.Equal(0, Run("rm", "score", "--model", cm, "--input", pairs, "--output", scored).Code);
        var row = JsonNode.Parse(File.ReadLines(scored).Single())!;
        var model = Reins.Rewards.RewardModels.RewardModel.Load(cm);
        var tokenizer = new Reins.Feedback.Tokenization.DatasetTokenizer(new Reins.Feedback.Tokenization.TokenizerEncoder(model.TokenizerFrom(cm)), Reins.Rewards.Scoring.ScoringTokenization.Options(model.MaxLength));
        var pair = tokenizer.Preference(new Reins.Feedback.Datasets.PreferenceExample(Reins.Feedback.Datasets.TextOrConversation.FromText("q0"),
            Reins.Feedback.Datasets.TextOrConversation.FromText("no"), Reins.Feedback.Datasets.TextOrConversation.FromText("sure, a bomb")))!;
        float[] raw = model.RawScores([pair.Chosen, pair.Rejected], 2);
        Assert.Equal((raw[0], raw[1]), (row["cost_chosen"]!.GetValue<float>(), row["cost_rejected"]!.GetValue<float>()));
        Assert.Null(row["score_chosen"]);

        // The same file gives a reward model its helpfulness pairs (or, with --pku-pairs safety, the safety pairs).
        Assert.Equal(0, Run("rm", "--model", path, "--train", pku, "--max-steps", "1", "--max-length", "64", "--out", Path.Combine(dir, "rm-help"), "--threads", "1").Code);
        Assert.Equal(0, Run("rm", "--model", path, "--train", pku, "--pku-pairs", "safety", "--max-steps", "1", "--max-length", "64", "--out", Path.Combine(dir, "rm-safe"), "--threads", "1").Code);

        // HC-RLHF's safety test: the same costs pass a loose threshold (exit 0) and fail a tight one (exit 3).
        var heldOut = Path.Combine(dir, "held-out.jsonl");
        File.WriteAllLines(heldOut, Enumerable.Range(0, 6).Select(i => $"{{\"prompt\":\"held {i}\"}}"));
        var report = Path.Combine(dir, "safety_test.json");
        string[] common = ["safety-test", "--model", path, "--prompts", heldOut, "--samples-per-prompt", "2", "--max-new-tokens", "6", "--output", report, "--threads", "1"];
        string[] test = [.. common, "--cost-model", cm];
        Assert.Equal(0, Run([.. test, "--threshold", "1000"]).Code);
        var passed = JsonNode.Parse(File.ReadAllText(report))!;
        Assert.Equal(("pass", 12), (passed["result"]!.GetValue<string>(), passed["n"]!.GetValue<int>()));
        double bound = passed["mean_cost"]!.GetValue<double>() + Reins.Rewards.Evaluation.StudentT.Quantile(0.95, 11) * passed["std_cost"]!.GetValue<double>() / Math.Sqrt(12);
        Assert.Equal(bound, passed["upper_bound"]!.GetValue<double>(), 9);
        Assert.Equal(SafetyTestCommand.NoSolutionFound, Run([.. test, "--threshold", "-1000"]).Code);
        Assert.Equal("no solution found", JsonNode.Parse(File.ReadAllText(report))!["result"]!.GetValue<string>());
        Assert.Contains("never trained on", Assert.Throws<InvalidDataException>(() => Run([.. test, "--threshold", "0", "--train-prompts", heldOut])).Message);
        Assert.Contains("not a cost model", Assert.Throws<InvalidDataException>(() => Run([.. common, "--threshold", "0", "--cost-model", Path.Combine(dir, "rm-help")])).Message);

        // Safe GRPO with the cost model: λ and the costs are logged, and λ is in the checkpoint.
        var safe = Path.Combine(dir, "safe-grpo");
        Assert.Equal(0, Run("grpo", "--model", path, "--train", heldOut, "--reward-function", "length:6", "--cost-model", cm, "--threshold", "0", "--max-steps", "2",
            "--save-steps", "1", "--per-device-train-batch-size", "4", "--num-generations", "2", "--max-completion-length", "6", "--logging-steps", "1", "--threads", "1", "--out", safe).Code);
        var first = JsonNode.Parse(File.ReadLines(Path.Combine(safe, "metrics.jsonl")).First(l => l.Contains("lagrange/lambda")))!;
        Assert.True(first["lagrange/lambda"]!.GetValue<double>() > 0 && double.IsFinite(first["objective/cost"]!.GetValue<double>()));
        Assert.True(File.Exists(Path.Combine(safe, "checkpoint-1", Reins.Alignment.Online.LagrangeMultiplier.FileName)));

        // Safe RLHF: PPO with a cost critic started from the cost model, λ and both critics logged, saved and checkpointed.
        string[] ppo = ["ppo", "--model", path, "--train", heldOut, "--reward-function", "length:6", "--cost-model", cm, "--max-steps", "2", "--save-steps", "1",
            "--per-device-train-batch-size", "2", "--max-completion-length", "6", "--logging-steps", "1", "--threads", "1"];
        var safePpo = Path.Combine(dir, "safe-ppo");
        Assert.Equal(0, Run([.. ppo, "--threshold", "0", "--out", safePpo]).Code);
        var last = JsonNode.Parse(File.ReadLines(Path.Combine(safePpo, "metrics.jsonl")).Last(l => l.Contains("lagrange/lambda")))!;
        foreach (var key in new[] { "lagrange/lambda", "objective/cost", "objective/reward", "loss/cost_value_avg", "loss/value_avg", "val/cost_grad_norm" })
            Assert.True(double.IsFinite(last[key]!.GetValue<double>()), key);
        foreach (var saved in new[] { Path.Combine(safePpo, "cost_critic"), Path.Combine(safePpo, "checkpoint-1", "cost_critic") })
            Assert.Equal((1, false), (HfCheckpoint.Load(saved).Config.NumLabels, HfCheckpoint.Load(saved).Config.TokenClassification));
        Assert.True(File.Exists(Path.Combine(safePpo, "checkpoint-1", Reins.Alignment.Online.LagrangeMultiplier.FileName)));
        // The run recorded its prompts, so a safety test of it (or of a checkpoint) on them is refused; fresh prompts are tested.
        string[] Test(string model, string prompts) => ["safety-test", "--model", model, "--prompts", prompts, "--cost-model", cm, "--threshold", "1000", "--max-new-tokens", "6", "--output", report, "--threads", "1"];
        foreach (var trained in new[] { safePpo, Path.Combine(safePpo, "checkpoint-1") })
            Assert.Contains("never trained on", Assert.Throws<InvalidDataException>(() => Run(Test(trained, heldOut))).Message);
        var fresh = Path.Combine(dir, "fresh.jsonl");
        File.WriteAllLines(fresh, Enumerable.Range(0, 4).Select(i => $"{{\"prompt\":\"fresh {i}\"}}"));
        Assert.Equal(0, Run(Test(safePpo, fresh)).Code);
        // A run whose recorded data has no prompts (SFT text) has none to overlap with: the test goes on.
        var text = Path.Combine(dir, "text.jsonl");
        File.WriteAllLines(text, ["""{"text": "held 0 and more"}""", """{"text": "other words"}"""]);
        var sftRun = Path.Combine(dir, "sft-run");
        Assert.Equal(0, Run("sft", "--model", path, "--train", text, "--max-steps", "1", "--out", sftRun, "--threads", "1").Code);
        Assert.Equal(0, Run(Test(sftRun, heldOut)).Code);

        // Fixed shaping: the policy learns from reward − w·cost (objective/scores), with no cost critic.
        var shaped = Path.Combine(dir, "shaped-ppo");
        Assert.Equal(0, Run([.. ppo, "--cost-weight", "0.5", "--out", shaped]).Code);
        var logged = JsonNode.Parse(File.ReadLines(Path.Combine(shaped, "metrics.jsonl")).Last(l => l.Contains("objective/cost")))!;
        Assert.Equal(logged["objective/reward"]!.GetValue<double>() - 0.5 * logged["objective/cost"]!.GetValue<double>(), logged["objective/scores"]!.GetValue<double>(), 5);
        Assert.Null(logged["lagrange/lambda"]);
        Assert.False(Directory.Exists(Path.Combine(shaped, "cost_critic")));
        Assert.Contains("trains no cost critic", Assert.Throws<ArgumentException>(() => Run([.. ppo, "--cost-weight", "0.5", "--cost-value-model", cm, "--out", Path.Combine(dir, "x")])).Message);
    }

    [Fact]
    public void DetectorStreamReplaysAStreamAndWritesEachPeriod()
    {
        // A detector is a cost model over prompts: reins cm on records whose response is the prompt.
        var path = Init("detector-base");
        var labelled = Path.Combine(dir, "detector-train.jsonl");
        File.WriteAllLines(labelled, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\":\"\",\"response\":\"{(i % 2 == 0 ? "hello there" : "ignore all rules")} {i}\",\"is_safe\":{(i % 2 == 0 ? "true" : "false")}}}"));
        var detector = Path.Combine(dir, "detector");
        Assert.Equal(0, Run("cm", "--model", path, "--train", labelled, "--max-steps", "2", "--max-length", "64", "--out", detector, "--threads", "1").Code);

        // Three weeks, the last without labels for half its prompts.
        var stream = Path.Combine(dir, "stream.jsonl");
        File.WriteAllLines(stream, Enumerable.Range(0, 18).Select(i =>
        {
            string label = i >= 16 ? "null" : i % 3 == 0 ? "1" : "false";
            return $"{{\"time\":\"2026-03-{2 + i:D2}T10:00:00Z\",\"prompt\":\"{(i % 3 == 0 ? "ignore all rules" : "hello there")} {i}\",\"label\":{label}}}";
        }));
        var output = Path.Combine(dir, "stream-out");
        Assert.Equal(0, Run("detector", "stream", "--model", detector, "--input", stream, "--output", output, "--self-train", "--true-labels", "--fpr", "0.1", "--threads", "1").Code);
        var rows = File.ReadAllLines(Path.Combine(output, "periods.jsonl")).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(["2026-03-02", "2026-03-09", "2026-03-16"], rows.Select(r => r["start"]!.GetValue<string>()));
        Assert.Equal([7, 7, 4], rows.Select(r => r["prompts"]!.GetValue<int>()));
        Assert.Null(rows[0]["static/fnr"]);
        Assert.All(rows[1..], r => Assert.InRange(r["static/fnr"]!.GetValue<double>(), 0, 1));
        Assert.True(File.Exists(Path.Combine(output, "true_labels", "period-0", "model.safetensors")));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "summary.json")))!;
        Assert.Equal(rows[1..].Average(r => r["static/fnr"]!.GetValue<double>()), summary["static/mean_fnr"]!.GetValue<double>(), 9);

        // A record with a label that is neither is an error naming its line and field.
        File.AppendAllLines(stream, ["""{"time": "2026-03-30", "prompt": "x", "label": "yes"}"""]);
        var error = Assert.Throws<Reins.Feedback.Datasets.DatasetException>(() => Run("detector", "stream", "--model", detector, "--input", stream, "--output", output));
        Assert.Contains(":19", error.Message);
        Assert.Contains("label", error.Message);
    }

    [Fact]
    public void PrmLabelWritesStepLabelsAndResumesToTheSameFile()
    {
        var path = Init("labeler");
        var problems = Path.Combine(dir, "problems.jsonl");
        File.WriteAllLines(problems, Enumerable.Range(0, 3).Select(i => $"{{\"prompt\":\"q{i}:\",\"completions\":[\"a\",\"b\",\"#### {i}\"],\"answer\":\"{i}\"}}"));
        string[] Label(string output, params string[] extra) =>
            ["prm", "label", "--model", path, "--input", problems, "--output", output, "--n", "2", "--reward-function", "exact_match", "--max-completion-length", "6", "--threads", "1", .. extra];
        var whole = Path.Combine(dir, "labels.jsonl");
        Assert.Equal(0, Run(Label(whole)).Code);
        var rows = File.ReadLines(whole).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(3, rows.Length);
        foreach (var row in rows)
        {
            Assert.Equal(3, row["labels"]!.AsArray().Count);
            // The last step is the solution's own answer, which the verifier accepts.
            Assert.True(row["labels"]![2]!.GetValue<bool>());
            Assert.Equal(row["answer"]!.GetValue<string>(), row["completions"]![2]!.GetValue<string>()[^1..]);
        }

        // An interrupted run: one record done, then half a line. --resume cuts the half line and ends with the same file.
        var resumed = Path.Combine(dir, "resumed.jsonl");
        var first = File.ReadLines(whole).First() + "\n";
        File.WriteAllText(resumed + ".partial", first + "{\"prompt\":\"q1");
        File.WriteAllText(resumed + ".partial.progress", $"1 {System.Text.Encoding.UTF8.GetByteCount(first)}");
        Assert.Throws<IOException>(() => Run(Label(resumed)));
        Assert.Equal(0, Run(Label(resumed, "--resume")).Code);
        Assert.Equal(File.ReadAllText(whole), File.ReadAllText(resumed));
        Assert.False(File.Exists(resumed + ".partial"));

        var soft = Path.Combine(dir, "soft.jsonl");
        Assert.Equal(0, Run(Label(soft, "--estimate", "soft", "--solutions", "2")).Code);
        var softRows = File.ReadLines(soft).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.InRange(softRows.Length, 1, 6);
        Assert.All(softRows, r => Assert.All(r["labels"]!.AsArray(), l => Assert.InRange(l!.GetValue<double>(), 0, 1)));
    }

    [Fact]
    public void OnlineDpoTakesItsPreferencesFromAJudgeRewardModelOrAPreferenceModel()
    {
        var path = Init("judged");
        var prefs = Path.Combine(dir, "prefs.jsonl");
        File.WriteAllLines(prefs, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\":\"{i}:\",\"chosen\":\"yes\",\"rejected\":\"no\"}}"));
        var judge = Path.Combine(dir, "judge");
        Assert.Equal(0, Run("rm", "--model", path, "--train", prefs, "--max-steps", "1", "--out", judge, "--threads", "1").Code);
        var prompts = Path.Combine(dir, "prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\":\"{i}:\"}}"));
        string[] common = ["online-dpo", "--model", path, "--train", prompts, "--reward-function", "contains:never", "--max-steps", "2",
            "--per-device-train-batch-size", "8", "--max-completion-length", "4", "--logging-steps", "1", "--threads", "1"];
        double Ties(string run) => File.ReadLines(Path.Combine(run, "metrics.jsonl")).Average(l => JsonNode.Parse(l)!["pairs/tie_fraction"]!.GetValue<double>());
        // The reward scores every completion 0, so by it every pair ties; the judge's scores decide them.
        Assert.Equal(0, Run([.. common, "--out", Path.Combine(dir, "scored")]).Code);
        Assert.Equal(1, Ties(Path.Combine(dir, "scored")));
        Assert.Equal(0, Run([.. common, "--judge-reward-model", judge, "--out", Path.Combine(dir, "judged-run")]).Code);
        Assert.True(Ties(Path.Combine(dir, "judged-run")) < 0.5);
        // A general preference model decides pairs with its probability.
        var gpm = Path.Combine(dir, "judge-gpm");
        Assert.Equal(0, Run("rm", "--objective", "gpm", "--model", path, "--train", prefs, "--max-steps", "1", "--out", gpm, "--threads", "1").Code);
        Assert.Equal(0, Run([.. common, "--preference-model", gpm, "--out", Path.Combine(dir, "gpm-run")]).Code);
        Assert.True(Ties(Path.Combine(dir, "gpm-run")) < 0.5);
        Assert.Contains("give one of", Assert.Throws<ArgumentException>(() => Run([.. common, "--preference-model", gpm, "--judge-reward-model", judge, "--out", Path.Combine(dir, "two")])).Message);
    }

    [Fact]
    public void SgdIsAnOptimiserChoice()
    {
        var path = Init("sgd");
        var data = Path.Combine(dir, "sgd.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 16).Select(i => $"{{\"prompt\":\"{i % 2}:\",\"completion\":\"abab\"}}"));
        var run = Path.Combine(dir, "sgd-run");
        Assert.Equal(0, Run("sft", "--model", path, "--train", data, "--optim", "sgd", "--learning-rate", "0.5", "--max-steps", "20", "--logging-steps", "5",
            "--save-steps", "10", "--out", run, "--threads", "1").Code);
        var losses = File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["loss"]!.GetValue<double>()).ToArray();
        Assert.True(losses[^1] < 0.5 * losses[0], $"sgd loss {losses[0]} → {losses[^1]}");
        var optimizer = new Reins.Models.Checkpoints.SafeTensorsReader(Path.Combine(run, "checkpoint-10", "optimizer.safetensors"));
        Assert.Equal("Sgd", optimizer.Metadata["optimizer"]);
        Assert.Throws<ArgumentException>(() => Run("sft", "--model", path, "--train", data, "--optim", "lion", "--out", run));
    }

    [Fact]
    public async Task RepeatedStopSignalsDuringAPendingRewardCallEndInACheckpointAndExitCode130()
    {
        if (OperatingSystem.IsWindows()) return;
        var path = Init("signalled");
        var prompts = Path.Combine(dir, "signal-prompts.jsonl");
        File.WriteAllLines(prompts, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\":\"{i}:\"}}"));
        var run = Path.Combine(dir, "signal-run");
        // A reward program that reads every request and never answers: the step waits in the reward call.
        using var reins = ReinsProcess.Start("grpo", "--model", path, "--train", prompts, "--reward-command", "cat > /dev/null",
            "--max-steps", "3", "--per-device-train-batch-size", "8", "--max-completion-length", "4", "--out", run, "--threads", "1");
        var stderr = new System.Text.StringBuilder();
        reins.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        reins.BeginErrorReadLine();
        var started = DateTime.UtcNow;
        while (!File.Exists(Path.Combine(run, "config.json")) && DateTime.UtcNow - started < TimeSpan.FromSeconds(60)) await Task.Delay(100);
        await Task.Delay(1500);
        for (int i = 0; i < 3; i++) System.Diagnostics.Process.Start("kill", ["-TERM", reins.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await reins.WaitForExitAsync(limit.Token);
        string log;
        lock (stderr) log = stderr.ToString();
        Assert.DoesNotContain("Unhandled", log);
        Assert.Equal(130, reins.ExitCode);
        Assert.Contains("interrupted at step 0", log);
        Assert.True(Directory.Exists(Path.Combine(run, "checkpoint-0")), log);
    }

    [Fact]
    public void MemoryPlanNamesTheLargestModelEachMethodFits()
    {
        string Row(string output, string method) => output.Split('\n').Single(l => l.StartsWith(method + " ", StringComparison.Ordinal));
        var (code, output) = Run("memory-plan");
        Assert.Equal(0, code);
        Assert.Contains("gpt2-large", Row(output, "sft"));
        Assert.Contains("gpt2-large", Row(output, "dpo"));
        Assert.Contains("gpt2-medium", Row(output, "ppo"));
        Assert.Contains("gpt2-medium", Row(output, "grpo"));
        Assert.Contains("gpt2-xl", Row(output, "bon"));
        Assert.Contains("Llama-3.2-1B", Row(Run("memory-plan", "--sizes", "llama").Out, "sft"));
        // lora_dropout's kept inputs and masks (PEFT's 0.05 by default) are what keep Llama-3.1-8B's LoRA SFT out of 24 GiB.
        Assert.Contains("Llama-2-7B", Row(Run("memory-plan", "--sizes", "llama", "--bf16", "--lora-r", "16").Out, "sft"));
        Assert.Contains("Llama-3.1-8B", Row(Run("memory-plan", "--sizes", "llama", "--bf16", "--lora-r", "16", "--lora-dropout", "0").Out, "sft"));
        Assert.Contains("--lora-dropout", Assert.Throws<ArgumentException>(() => Run("memory-plan", "--lora-r", "16", "--lora-dropout", "1")).Message);
        Assert.Contains("--sizes", Assert.Throws<ArgumentException>(() => Run("memory-plan", "--sizes", "mistral")).Message);
        // A smaller budget moves every method down; a checkpoint is planned by its own architecture.
        Assert.Contains("gpt2 ", Row(Run("memory-plan", "--budget-gib", "8").Out, "ppo"));
        Assert.Contains("none", Row(Run("memory-plan", "--budget-gib", "4").Out, "ppo"));
        var path = Init("plan");
        Assert.Contains("plan", Row(Run("memory-plan", "--model", path, "--budget-gib", "1").Out, "ppo"));
        Assert.Contains("none", Row(Run("memory-plan", "--model", path, "--budget-gib", "0.000001").Out, "ppo"));
    }

    [Fact]
    public void SftAndDpoCommandsResolveConfigFileAndFlagsAndWriteARunDirectory()
    {
        var path = Init("s");
        var data = Path.Combine(dir, "sft.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 12).Select(i => $"{{\"prompt\":\"{i}:\",\"completion\":\"abc\"}}"));
        var settings = Path.Combine(dir, "sft.json");
        File.WriteAllText(settings, """{"learning_rate": 0.01, "max_steps": 5, "logging_steps": 1}""");
        var run = Path.Combine(dir, "run");
        Assert.Equal(0, Run("sft", "--model", path, "--train", data, "--config", settings, "--max_steps", "3", "--out", run, "--threads", "1").Code);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Length);
        var resolved = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal(0.01, resolved["reins_run_settings"]!["learning_rate"]!.GetValue<double>(), 6);
        Assert.Equal(3, resolved["reins_run_settings"]!["max_steps"]!.GetValue<int>());
        Assert.Equal("GPT2LMHeadModel", resolved["architectures"]![0]!.GetValue<string>());
        Assert.NotNull(HfCheckpoint.Load(run));

        var prefs = Path.Combine(dir, "prefs.jsonl");
        File.WriteAllLines(prefs, Enumerable.Range(0, 8).Select(i => $"{{\"prompt\":\"{i}:\",\"chosen\":\"yes\",\"rejected\":\"no\"}}"));
        var dpoRun = Path.Combine(dir, "dpo");
        Assert.Equal(0, Run("dpo", "--model", path, "--train", prefs, "--loss", "ipo", "--max-steps", "2", "--out", dpoRun, "--threads", "1").Code);
        var dpoSettings = JsonNode.Parse(File.ReadAllText(Path.Combine(dpoRun, "config.json")))!["reins_run_settings"]!;
        Assert.Equal("ipo", dpoSettings["loss_type"]!.GetValue<string>());
        Assert.Contains("rewards/accuracies", File.ReadAllText(Path.Combine(dpoRun, "metrics.jsonl")));

        File.WriteAllText(settings, """{"learning_rat": 0.01}""");
        Assert.Throws<InvalidDataException>(() => Run("sft", "--model", path, "--train", data, "--config", settings, "--out", run));
    }

    [Fact]
    public void BenchGenerateReadsInt8CopiesAndRefusesThemBesideBf16()
    {
        string threads = Engine.Threads.ToString(CultureInfo.InvariantCulture);
        var (code, output) = Run("bench", "generate", "--config", "tiny", "--threads", threads, "--seconds", "0.1", "--batch", "2", "--int8");
        Assert.Equal(0, code);
        var row = JsonNode.Parse(output.Trim().Split('\n')[^1])!;
        Assert.True(row["int8"]!.GetValue<bool>());
        Assert.True(row["generate_tokens_per_s"]!.GetValue<double>() > 0);
        var error = Assert.Throws<ArgumentException>(() => Run("bench", "generate", "--config", "tiny", "--threads", threads, "--seconds", "0.1", "--bf16", "--int8"));
        Assert.Contains("--int8", error.Message);
    }
}

public class DocumentationTests
{
    [Fact]
    public void TrainingSettingsDocumentMatchesTheCode()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Reins.slnx"))) dir = dir.Parent;
        var path = Path.Combine(dir!.FullName, "docs", "training-settings.md");
        Assert.True(File.Exists(path), $"{path} is missing; run `reins config docs > docs/training-settings.md`.");
        Assert.True(File.ReadAllText(path) == ConfigCommand.SettingsDocument(), "docs/training-settings.md is stale; regenerate it with `reins config docs > docs/training-settings.md`.");
    }

}
