using System.Text.Json;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.Critics;
using Reins.Rewards.ProcessRewards;
using Reins.Rewards.Sources;

namespace Reins.Rewards.Tests;

/// <summary>Generative critics: the prompt, the verdict grammar, the verdict rewards worked by hand, and critiques that do not depend on batching.</summary>
public sealed class CriticTests
{
    [Fact]
    public void ThePromptNumbersTheStepsInParagraphTags()
    {
        var format = new CriticFormat("P: {problem}\nS:\n{steps}\nVerdict?");
        Assert.Equal("P: 2+2 {steps}\nS:\n<paragraph_0>\nx=4\n</paragraph_0>\n\n<paragraph_1>\n#### 4\n</paragraph_1>\nVerdict?", format.Render("2+2 {steps}", ["x=4", "#### 4"]));
        Assert.StartsWith("The following is a math problem and a solution", new CriticFormat().Render("q", ["a"]));
        Assert.Equal("4+8=\n0: 4+8=12\n1: #### 12\n?", new CriticFormat("{problem}\n{lines}\n?").Render("4+8=", ["4+8=12", "#### 12"]));
        Assert.Throws<ArgumentException>(() => new CriticFormat("no placeholders"));
        Assert.Throws<ArgumentException>(() => new CriticFormat(verdictPattern: @"\d+"));
        Assert.Throws<ArgumentException>(() => new CriticFormat(verdictPattern: "(unclosed"));
    }

    [Theory]
    [InlineData("Paragraph 1 is wrong. \\boxed{1}", 3, 1)]
    [InlineData("first \\boxed{0}, on reflection \\boxed{ -1 }", 3, -1)]
    [InlineData("\\boxed{3}", 3, null)]          // no step 3 of three
    [InlineData("\\boxed{-2}", 3, null)]
    [InlineData("I am not sure.", 3, null)]
    public void TheVerdictIsTheLastValidBoxedIndex(string critique, int steps, int? expected) =>
        Assert.Equal(expected, new CriticFormat().Verdict(critique, steps));

    [Fact]
    public void AnotherGrammarReadsItsOwnGroup() =>
        Assert.Equal(2, new CriticFormat(verdictPattern: @"Earliest error: (-?\d+)").Verdict("... Earliest error: 2.", 4));

    private static ScoringRequest Critique(string text, int label, int steps = 3) => new("prompt", text, [], [], true, new Dictionary<string, JsonElement>
    {
        ["label"] = JsonSerializer.SerializeToElement(label), ["steps"] = JsonSerializer.SerializeToElement(Enumerable.Repeat("s", steps).ToArray()),
    });

    [Theory]
    // label 1 (wrong at step 1): any step verdict judges the solution wrong; only 1 names the step.
    [InlineData("\\boxed{1}", 1, 1, 1)]
    [InlineData("\\boxed{2}", 1, 1, 0)]
    [InlineData("\\boxed{-1}", 1, 0, 0)]
    // label -1 (right): only -1 matches either way.
    [InlineData("\\boxed{-1}", -1, 1, 1)]
    [InlineData("\\boxed{0}", -1, 0, 0)]
    // No verdict, or an index past the steps: wrong under both.
    [InlineData("looks fine", -1, 0, 0)]
    [InlineData("\\boxed{7}", 1, 0, 0)]
    public void VerdictRewardsCompareWithTheLabel(string critique, int label, float solutionLevel, float stepLevel)
    {
        Assert.Equal(solutionLevel, VerifiableRewards.Create("verdict_match").Score([Critique(critique, label)])[0]);
        Assert.Equal(stepLevel, VerifiableRewards.Create("verdict_step_match").Score([Critique(critique, label)])[0]);
    }

    [Fact]
    public void VerdictRewardsNeedALabel()
    {
        var request = new ScoringRequest("p", "\\boxed{1}", [], [], true, new Dictionary<string, JsonElement> { ["label"] = JsonSerializer.SerializeToElement("x") });
        Assert.Contains("\"label\"", Assert.Throws<InvalidDataException>(() => VerifiableRewards.Create("verdict_match").Score([request])).Message);
        Assert.Equal(1, VerifiableRewards.Create(@"verdict_step_match:\[(\d+)\]").Score([Critique("[2]", 2)])[0]);
    }

    [Fact]
    public void CritiquesDoNotDependOnTheBatching()
    {
        var bytes = Tokenizer.CreateByteLevel(260);
        var model = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 260, hidden: 16, layers: 1, heads: 2, maxPositions: 256) with { EosTokenId = bytes.EosId, BosTokenId = bytes.BosId }, seed: 4);
        var critic = new GenerativeCritic(model, new TokenizerEncoder(bytes), ids => bytes.Decode(ids, skipSpecialTokens: true),
            new CriticFormat("{problem}:{steps}"), new SamplingOptions { MaxNewTokens = 6, Temperature = 1, Seed = 9 });
        StepSolution[] solutions = [new("a", ["b"]), new("cc", ["d", "e"]), new("f", ["g"])];
        var one = critic.Judge(solutions, batchSize: 1);
        var all = critic.Judge(solutions, batchSize: 3);
        Assert.Equal(one.Select(c => c.Text), all.Select(c => c.Text));
        Assert.Equal(3, one.Count);
        Assert.Throws<ArgumentException>(() => new GenerativeCritic(model, new TokenizerEncoder(bytes), ids => "", new CriticFormat(), new SamplingOptions { MaxNewTokens = 256 }));
    }

    [Fact]
    public void TheRefinementRewardScoresWhatThePolicyRewritesFromTheCritique()
    {
        var bytes = Tokenizer.CreateByteLevel(260);
        // Weights large enough that what the policy writes depends on its prompt.
        var policy = CausalLanguageModel.Create(ModelConfig.Gpt2(vocab: 260, hidden: 16, layers: 1, heads: 2, maxPositions: 256) with { EosTokenId = bytes.EosId, BosTokenId = bytes.BosId, InitializerRange = 0.5f }, seed: 4);
        var seen = new List<string>();
        var verifier = new FunctionRewardSource("v", q => { seen.Add(q.Completion); return q.Extra.ContainsKey("answer") && q.Prompt == "2+2?" ? 1 : 0; });
        var reward = new RefinementRewardSource(policy, new TokenizerEncoder(bytes), ids => bytes.Decode(ids, skipSpecialTokens: true), verifier, new SamplingOptions { MaxNewTokens = 8, Temperature = 0 });
        ScoringRequest Critique(string text) => new("critic prompt", text, [], [], true, new Dictionary<string, JsonElement>
        {
            ["problem"] = JsonSerializer.SerializeToElement("2+2?"), ["steps"] = JsonSerializer.SerializeToElement(new[] { "2+2=5", "#### 5" }),
            ["answer"] = JsonSerializer.SerializeToElement("4"),
        });
        Assert.Equal([1f, 1f], reward.Score([Critique("step 0 is wrong"), Critique("all fine")]));
        // Greedy, so the same critique gives the same rewrite; another critique, another rewrite.
        Assert.Equal(2, seen.Count);
        Assert.NotEqual(seen[0], seen[1]);
        reward.Score([Critique("step 0 is wrong")]);
        Assert.Equal(seen[0], seen[2]);
        var bare = new ScoringRequest("p", "c", [], [], true, new Dictionary<string, JsonElement> { ["problem"] = JsonSerializer.SerializeToElement("q") });
        Assert.Contains("\"steps\"", Assert.Throws<InvalidDataException>(() => reward.Score([bare])).Message);
    }
}
