using Reins.Rewards.Evaluation;
using Reins.Rewards.ProcessRewards;

namespace Reins.Rewards.Tests;

/// <summary>ProcessBench's reading and metric on records written by hand in its format, with the answers worked out by hand.</summary>
public sealed class ProcessBenchTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("reins-pb-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    // ProcessBench's own fields, as its gsm8k split has them.
    private const string Wrong = """{"id": "gsm8k-0", "generator": "Qwen2-7B-Instruct", "problem": "Tom has 3 apples and buys 2. How many?", "steps": ["Tom starts with 3.", "He buys 2, so 3 * 2 = 6.", "The answer is 6."], "final_answer_correct": false, "label": 1}""";
    private const string Right = """{"id": "gsm8k-1", "generator": "Llama-3.1-8B-Instruct", "problem": "What is 2 + 2?", "steps": ["2 + 2 = 4.", "The answer is 4."], "final_answer_correct": true, "label": -1}""";

    [Fact]
    public void ReadsProcessBenchRecordsAndKeepsTheirFields()
    {
        var items = ProcessBench.Read(Write("gsm8k.jsonl", Wrong, Right));
        Assert.Equal([1, -1], items.Select(i => i.Label));
        Assert.Equal(3, items[0].Record.Solution.Steps.Count);
        Assert.Equal("What is 2 + 2?", items[1].Record.Solution.Problem);
        Assert.Equal("Qwen2-7B-Instruct", items[0].Record.Fields["generator"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"problem": "p", "steps": ["a", "b"], "label": 2}""", "field \"label\": 2 is not -1 or a step index of the 2 steps (0 … 1)")]
    [InlineData("""{"problem": "p", "steps": ["a"], "label": -2}""", "field \"label\": -2 is not -1 or a step index of the 1 steps (0 … 0)")]
    [InlineData("""{"problem": "p", "steps": ["a"], "label": 0.5}""", "field \"label\": expected an integer, got 0.5")]
    [InlineData("""{"problem": "p", "steps": ["a"]}""", "field \"label\": missing")]
    [InlineData("""{"problem": "p", "steps": ["a", ""], "label": 0}""", "field \"steps[1]\": empty step")]
    [InlineData("""{"problem": "p", "steps": [], "label": -1}""", "field \"steps\": expected at least one step")]
    [InlineData("""{"steps": ["a"], "label": -1}""", "field \"prompt\": missing")]
    public void BadRecordsNameTheFileLineAndField(string line, string expected)
    {
        var path = Write("bad.jsonl", Right, line);
        var error = Assert.Throws<InvalidDataException>(() => ProcessBench.Read(path));
        Assert.StartsWith($"{path}:2: {expected}", error.Message);
    }

    [Fact]
    public void ThePredictionIsTheFirstStepBelowTheThreshold()
    {
        Assert.Equal(1, ProcessBench.Prediction([0.9f, 0.4f, 0.1f], 0.5));
        Assert.Equal(-1, ProcessBench.Prediction([0.9f, 0.5f, 0.7f], 0.5));
        Assert.Equal(2, ProcessBench.Prediction([0.9f, null, 0.2f], 0.5));
        Assert.Equal(0, ProcessBench.Prediction([0.6f, 0.9f], 0.7));
    }

    [Fact]
    public void TheMetricReproducesTheHandCount()
    {
        // Four wrong solutions (labels 1, 0, 2, 1) and three right ones; predictions 1, 1, 2, -1 and -1, -1, 0.
        var result = ProcessBenchResult.Of([(1, 1), (0, 1), (2, 2), (1, -1), (-1, -1), (-1, -1), (-1, 0)]);
        Assert.Equal((4, 3, 2, 2), (result.Erroneous, result.Correct, result.ErrorHits, result.CorrectHits));
        Assert.Equal(0.5, result.ErrorAccuracy);
        Assert.Equal(2.0 / 3, result.CorrectAccuracy!.Value, 12);
        Assert.Equal(2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3), result.F1!.Value, 12);
        Assert.Equal(0, ProcessBenchResult.Of([(1, 0), (-1, 2)]).F1);
        Assert.Null(ProcessBenchResult.Of([(-1, -1)]).F1);
    }

    [Fact]
    public void AnAutomaticThresholdSeparatesWhatAGivenOneMisjudges()
    {
        // Wrong steps score 0.2 and right ones 0.3: at 0.5 every solution looks wrong at step 0; the best cut lies between.
        var calibration = new List<(int, IReadOnlyList<float?>)>
        {
            (1, [0.3f, 0.2f]), (0, [0.2f, 0.2f]), (-1, [0.3f, 0.3f]), (-1, [0.3f]),
        };
        Assert.Equal(0.5, ProcessBenchResult.Of(calibration.Select(c => (c.Item1, ProcessBench.Prediction(c.Item2, 0.5)))).ErrorAccuracy);
        double threshold = ProcessBench.ChooseThreshold(calibration);
        Assert.InRange(threshold, 0.2001, 0.3);
        Assert.Equal(1.0, ProcessBenchResult.Of(calibration.Select(c => (c.Item1, ProcessBench.Prediction(c.Item2, threshold)))).F1);
    }
}

/// <summary>How step scores become one score, worked by hand.</summary>
public sealed class StepAggregationTests
{
    [Theory]
    [InlineData(Reins.Rewards.Sources.StepAggregation.Min, 0.2)]
    [InlineData(Reins.Rewards.Sources.StepAggregation.Prod, 0.9 * 0.2 * 0.5)]
    [InlineData(Reins.Rewards.Sources.StepAggregation.Last, 0.5)]
    [InlineData(Reins.Rewards.Sources.StepAggregation.Mean, (0.9 + 0.2 + 0.5) / 3)]
    public void AggregatesStepScores(Reins.Rewards.Sources.StepAggregation aggregation, double expected)
    {
        Assert.Equal(expected, Reins.Rewards.Sources.ProcessRewardSource.Aggregate([0.9f, 0.2f, 0.5f], aggregation), 6);
        Assert.Equal(0, Reins.Rewards.Sources.ProcessRewardSource.Aggregate([], aggregation));
    }
}

/// <summary>A process reward model as a reward source: how completions split into steps and what each step earns.</summary>
public sealed class ProcessRewardSourceTests
{
    private static (Reins.Rewards.Sources.ProcessRewardSource Source, ProcessRewardModel Model) Make(string separator)
    {
        var bytes = Reins.Models.Tokenizers.Tokenizer.CreateByteLevel(260);
        var config = Reins.Models.Transformers.ModelConfig.Gpt2(vocab: 260, hidden: 16, layers: 1, heads: 2, maxPositions: 32) with { NumLabels = 2, TokenClassification = true };
        var model = new ProcessRewardModel(Reins.Models.Transformers.CausalLanguageModel.Create(config, seed: 2), new Reins.Feedback.Tokenization.TokenizerEncoder(bytes), separator);
        return (new Reins.Rewards.Sources.ProcessRewardSource(model, Reins.Rewards.Sources.StepAggregation.Min), model);
    }

    private static Reins.Rewards.Sources.ScoringRequest Request(string completion) => new("2+2?", completion, [], [], true, new Dictionary<string, System.Text.Json.JsonElement>());

    [Fact]
    public void StepsEndWithTheirSeparatorAndBlankPiecesAreDropped()
    {
        var (source, _) = Make("\n");
        var (steps, ends) = source.Steps("a\nb \n\n c");
        Assert.Equal(["a", "b", "c"], steps);
        Assert.Equal([2, 5, 8], ends);
        Assert.Empty(source.Steps(" \n ").Steps);
    }

    [Fact]
    public void EachStepEarnsItsScoreAndTheAggregateIsTheScore()
    {
        var (source, model) = Make("\n");
        var result = source.StepRewards([Request("x=4\n#### 4"), Request("\n")]);
        var expected = model.StepScores([new StepSolution("2+2?", ["x=4", "#### 4"])], 4)[0];
        Assert.Equal(expected.Select(s => s!.Value), result[0].Rewards);
        Assert.Equal(Math.Min(expected[0]!.Value, expected[1]!.Value), result[0].Score);
        Assert.Equal([4, 10], result[0].EndChars);
        Assert.Equal((0f, 0), (result[1].Score, result[1].Rewards.Length));
        Assert.Equal(result.Select(r => r.Score), source.Score([Request("x=4\n#### 4"), Request("\n")]));
    }
}
