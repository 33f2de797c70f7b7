using System.Text.Json;
using Reins.Alignment.Online;
using Reins.Models.Generation;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Tests.Online;

/// <summary>
/// Step rewards (Math-Shepherd's step-by-step PPO): a source that scores steps has its step rewards placed on the tokens
/// that end the steps, and the rest of the score at the last token; worked by hand on the tiny task's letters.
/// </summary>
public class StepRewardTests
{
    // Scores steps separated by the letter given: each step earns its length; the aggregate is the minimum.
    private sealed class LetterSteps(char separator = 'x') : IStepRewardSource
    {
        public string Name => "steps";
        public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) => [.. StepRewards(requests, cancellation).Select(s => s.Score)];
        public IReadOnlyList<StepRewards> StepRewards(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default) =>
        [.. requests.Select(r =>
        {
            var steps = r.Completion.Split(separator);
            var ends = steps.Select((s, i) => steps.Take(i + 1).Sum(p => p.Length + 1)).Select(e => Math.Min(e, r.Completion.Length)).ToArray();
            float[] rewards = [.. steps.Select(s => (float)s.Length)];
            return new StepRewards(rewards.Min(), ends, rewards);
        })];
    }

    private static ScoringRequest Request(string completion) => new("p", completion, [], [], true, new Dictionary<string, JsonElement>());

    [Fact]
    public void TheWeightedSumKeepsTotalsAndWeighsTheStepRewards()
    {
        var sum = new WeightedRewardSum([(new LetterSteps(), 2f), (new FunctionRewardSource("one", _ => 1f), 0.5f)]);
        var (total, components, steps) = sum.ScoreWithSteps([Request("abxc"), Request("a")], steps: true);
        Assert.Equal([2 * 1 + 0.5f, 2 * 1 + 0.5f], total);
        Assert.Equal(sum.ScoreEach([Request("abxc"), Request("a")]).Total, total);
        Assert.Equal([4f, 2f], steps![0].Rewards);
        Assert.Equal([3, 4], steps[0].EndChars);
        Assert.Equal(2f, steps[0].Score);
        Assert.Null(sum.ScoreWithSteps([Request("a")], steps: false).Steps);
        Assert.Null(new WeightedRewardSum([(new FunctionRewardSource("one", _ => 1f), 1f)]).ScoreWithSteps([Request("a")], steps: true).Steps);
    }

    [Fact]
    public void StepRewardsLandOnTheTokensEndingTheirSteps()
    {
        var sampler = new CompletionSampler(new TinyTask(), TinyTask.Decode, new LetterSteps(), maxPromptLength: 8);
        // Tokens 0 1 2 3 decode to "abcd"; steps ending at characters 2, 4 and 9 (past the text) land on tokens 1, 3 and 3.
        var placed = sampler.PlaceOnTokens([0, 1, 2, 3], new StepRewards(0, [2, 4, 9], [5f, 7f, 1f]));
        Assert.Equal([0f, 5f, 0f, 8f], placed);
        // A token that decodes to nothing (EOS here; a byte piece of a character in a BPE) does not end a step.
        Assert.Equal([0f, 3f], sampler.PlaceOnTokens([TinyTask.Eos, 0], new StepRewards(0, [1], [3f])));
    }

    [Fact]
    public void TokenScoresPutTheRestOfTheScoreAtTheLastToken()
    {
        var samples = new[]
        {
            new GeneratedSequence(0, 0, [12], [0, 1, 2], [-1f, -1f, -1f], FinishReason.Stop),
            new GeneratedSequence(1, 0, [12], [3, 4], [-1f, -1f], FinishReason.Length),
        };
        var rollout = Rollout.FromSamples(samples, 1, TinyTask.Pad);
        var plain = new ScoredRollout(rollout, [1f, 2f], [], []);
        Assert.Equal([0f, 0f, 1f, 0f, 2f, 0f], plain.TokenScores([1f, 2f]));
        var stepped = plain with { StepRewards = ([0.5f, 0f, 0.25f, 0.75f, 0f, 0f], [0.6f, 0.5f]) };
        Assert.Equal([0.5f, 0f, 0.25f + 1f - 0.6f, 0.75f, 2f - 0.5f, 0f], stepped.TokenScores([1f, 2f]));
    }

    [Theory]
    [InlineData("ppo")]
    [InlineData("reinforce-pp")]
    public void PpoAndReinforcePlusPlusLearnFromStepRewardsWhereTheAggregateAloneWouldDiffer(string method)
    {
        using var scratch = new Scratch();
        IReadOnlyList<System.Text.Json.Nodes.JsonObject> Run(IRewardSource reward, string name)
        {
            var training = new Training.TrainingArguments { OutputDir = scratch.Dir(name), MaxSteps = 1, LearningRate = 1e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 8, LoggingSteps = 1 };
            var online = new OnlineArguments { Sampling = new() { MaxCompletionLength = 4 } };
            var reference = TinyTask.Model();
            var inputs = TinyTask.Inputs(reward, TinyTask.Prompts("abcdefgh"));
            Training.ITrainer trainer = method == "ppo"
                ? new Ppo.PpoTrainer(new Ppo.PpoConfig { Training = training, Online = online }, reference.Clone(), reference, Ppo.PpoTrainer.CriticFromPolicy(reference, seed: 3), inputs)
                : new ReinforcePlusPlus.ReinforcePlusPlusTrainer(new ReinforcePlusPlus.ReinforcePlusPlusConfig { Training = training, Online = online, Group = new() { NumGenerations = 2 } }, reference.Clone(), reference, inputs);
            trainer.Train();
            return Scratch.Metrics(scratch.Dir(name));
        }
        var steps = new LetterSteps('a');
        var stepwise = Run(steps, "steps")[0];
        var aggregate = Run(new FunctionRewardSource("steps", r => steps.Score([r])[0]), "aggregate")[0];
        // The same samples and scores; only where the rewards sit differs, and with it the policy's loss.
        Assert.Equal(aggregate["rewards/steps/mean"]!.GetValue<double>(), stepwise["rewards/steps/mean"]!.GetValue<double>());
        Assert.NotEqual(aggregate["loss/policy_avg"]!.GetValue<double>(), stepwise["loss/policy_avg"]!.GetValue<double>());
    }
}
