using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Reins.Cli.Commands;
using Reins.Cli.Commands.Training;
using Reins.Models.Checkpoints;
using Reins.Models.Peft;
using Reins.Models.Transformers;

namespace Reins.Cli.Tests;

/// <summary>
/// --use-peft from the command line: a trainer's run is a PEFT adapter that every command loads onto its base, a
/// reward model's adapter keeps its score head, `reins model merge` writes the same model as one checkpoint, and TRL's
/// spellings of the flags work.
/// </summary>
public sealed class LoraCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("reins-lora-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private static (int Code, string Out) Run(params string[] args)
    {
        var root = new RootCommand { ModelCommand.Create(), SftCommand.Create(), DpoCommand.Create(), RewardCommand.Create() };
        var previous = Console.Out;
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        Console.SetOut(writer);
        try { return (root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }), writer.ToString()); }
        finally { Console.SetOut(previous); }
    }

    private string Data(string name, Func<int, JsonObject> record)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, Enumerable.Range(0, 24).Select(i => record(i).ToJsonString()));
        return path;
    }

    private string Base()
    {
        var path = Path.Combine(dir, "base");
        Assert.Equal(0, Run("model", "init", "--arch", "llama", "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "4", "--max-positions", "64", "--seed", "3", "--out", path).Code);
        return path;
    }

    private static string Logits(string model) => Run("model", "forward", "--model", model, "--token-ids", "5,6,7,8").Out;

    [Fact]
    public void SftWithPeftSavesAnAdapterThatLoadsAndMergesToTheSameModel()
    {
        string baseModel = Base(), run = Path.Combine(dir, "sft"), merged = Path.Combine(dir, "merged");
        string train = Data("sft.jsonl", i => new JsonObject { ["prompt"] = $"n{i}=", ["completion"] = new string((char)('a' + i % 5), 4) });
        // TRL's spelling: a switch alone, and several names after one flag.
        Assert.Equal(0, Run("sft", "--model", baseModel, "--train", train, "--out", run, "--max-steps", "4", "--learning-rate", "1e-2", "--threads", "1",
            "--use_peft", "--lora_r", "4", "--lora_alpha", "16", "--lora_target_modules", "q_proj", "v_proj", "o_proj").Code);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, PeftCheckpoint.ConfigFile)))!;
        Assert.Equal(["o_proj", "q_proj", "v_proj"], config["target_modules"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(4, config["r"]!.GetValue<int>());
        Assert.Equal(16, config["lora_alpha"]!.GetValue<double>());
        Assert.Equal(Path.GetFullPath(baseModel), config["base_model_name_or_path"]!.GetValue<string>());
        Assert.False(File.Exists(Path.Combine(run, "model.safetensors")));
        // 2 layers × 3 projections × (A, B): nothing else was trained or saved.
        Assert.Equal(12, new SafeTensorsReader(Path.Combine(run, PeftCheckpoint.WeightsFile)).Tensors.Count);

        // The run loads as its base plus the adapter, which moved it; merged, it is the same model, with no adapter left.
        Assert.NotEqual(Logits(baseModel), Logits(run));
        Assert.Equal(0, Run("model", "merge", "--adapter", run, "--out", merged).Code);
        Assert.True(File.Exists(Path.Combine(merged, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(merged, "tokenizer.json")));
        Assert.False(File.Exists(Path.Combine(merged, PeftCheckpoint.ConfigFile)));
        var (viaAdapter, viaMerge) = (Parse(Logits(run)), Parse(Logits(merged)));
        Assert.All(viaAdapter.Zip(viaMerge), p => Assert.Equal(p.First, p.Second, 5));

        // A second run on the adapter stacks: its base is the first run, loaded (merged) in turn.
        string dpo = Path.Combine(dir, "dpo");
        string pairs = Data("pairs.jsonl", i => new JsonObject { ["prompt"] = $"q{i}:", ["chosen"] = "yes", ["rejected"] = "no" });
        Assert.Equal(0, Run("dpo", "--model", run, "--train", pairs, "--out", dpo, "--max-steps", "2", "--logging-steps", "1", "--threads", "1", "--use-peft", "--lora-dropout", "0").Code);
        Assert.Equal(Path.GetFullPath(run), JsonNode.Parse(File.ReadAllText(Path.Combine(dpo, PeftCheckpoint.ConfigFile)))!["base_model_name_or_path"]!.GetValue<string>());
        Assert.Equal(Math.Log(2), JsonNode.Parse(File.ReadLines(Path.Combine(dpo, "metrics.jsonl")).First())!["loss"]!.GetValue<double>(), 5);
        Assert.NotEqual(Logits(run), Logits(dpo));
    }

    private static double[] Parse(string json) => [.. JsonNode.Parse(json)!["logits"]!.AsArray().SelectMany(row => row!.AsArray().Select(v => v!.GetValue<double>()))];

    [Fact]
    public void ARewardModelAdapterKeepsItsScoreHeadAndScoresAsTrained()
    {
        string baseModel = Base(), run = Path.Combine(dir, "rm"), scored = Path.Combine(dir, "scored.jsonl");
        string pairs = Data("pairs.jsonl", i => new JsonObject { ["prompt"] = $"q{i}:", ["chosen"] = "good answer", ["rejected"] = "bad" });
        Assert.Equal(0, Run("rm", "--model", baseModel, "--train", pairs, "--out", run, "--max-steps", "3", "--threads", "1", "--use-peft", "--learning-rate", "1e-2").Code);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, PeftCheckpoint.ConfigFile)))!;
        Assert.Equal("SEQ_CLS", config["task_type"]!.GetValue<string>());
        Assert.Equal(["score"], config["modules_to_save"]!.AsArray().Select(n => n!.GetValue<string>()));
        var file = new SafeTensorsReader(Path.Combine(run, PeftCheckpoint.WeightsFile));
        Assert.Equal([1, 32], file.Info("base_model.model.score.weight").Shape);
        // Loaded, it is a sequence classifier of the base's trunk with the trained head: scoring works as for a full model.
        var model = HfCheckpoint.Load(run);
        Assert.Equal(1, model.Config.NumLabels);
        Assert.Equal(file.ReadFloats("base_model.model.score.weight"), model.ScoreWeight!.ToArray());
        File.WriteAllText(scored + ".in", new JsonObject { ["prompt"] = "q1:", ["completion"] = "good answer" }.ToJsonString());
        Assert.Equal(0, Run("rm", "score", "--model", run, "--input", scored + ".in", "--output", scored, "--raw").Code);
        Assert.True(double.IsFinite(JsonNode.Parse(File.ReadAllText(scored))!["score"]!.GetValue<double>()));
    }

    [Fact]
    public void LoraSettingsThatCannotApplyAreRefusedByName()
    {
        string baseModel = Base();
        string train = Data("sft.jsonl", i => new JsonObject { ["prompt"] = $"n{i}=", ["completion"] = "abc" });
        string Refusal(params string[] more) => Assert.ThrowsAny<Exception>(() => Run(["sft", "--model", baseModel, "--train", train, "--out", Path.Combine(dir, "x"), "--max-steps", "1", "--use-peft", .. more])).Message;
        Assert.Contains("lora_target_modules: c_attn names no linear layer of LlamaForCausalLM (its layers: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)", Refusal("--lora-target-modules", "c_attn"));
        Assert.Contains("lora_r", Refusal("--lora-r", "0"));
        Assert.Contains("lora_dropout", Refusal("--gradient-checkpointing"));
        Assert.Contains("lora_modules_to_save: 'wte'", Refusal("--lora-modules-to-save", "wte"));
    }
}
