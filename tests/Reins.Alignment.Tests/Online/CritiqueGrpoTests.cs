using System.Text.Json;
using Reins.Alignment.Grpo;
using Reins.Alignment.Online;
using Reins.Feedback.Datasets;
using Reins.Feedback.Tokenization;
using Reins.Models.Generation;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Alignment.Tests.Online;

/// <summary>Critique-GRPO's refinement stage on a byte-level policy: which groups are refined, what replaces what, and a run that learns through it.</summary>
public class CritiqueGrpoTests
{
    private static readonly Tokenizer Bytes = Tokenizer.CreateByteLevel(260);

    private static CausalLanguageModel Policy() => CausalLanguageModel.Create(
        ModelConfig.Gpt2(vocab: 260, hidden: 32, layers: 2, heads: 4, maxPositions: 256) with { BosTokenId = Bytes.BosId, EosTokenId = Bytes.EosId, PadTokenId = Bytes.PadId }, seed: 2);

    private static PromptOnlyExample Prompt(string letter) => new(TextOrConversation.FromText(letter + "?"))
    {
        Extra = new Dictionary<string, JsonElement> { ["answer"] = JsonSerializer.SerializeToElement(letter) },
    };

    private static CompletionSampler Sampler(IRewardSource reward) => new(new TokenizerEncoder(Bytes), ids => Bytes.Decode(ids, skipSpecialTokens: true), reward, maxPromptLength: 200);

    [Fact]
    public void OnlyGroupsWithoutACorrectResponseAreRefinedAndTheirLastKRowsReplaced()
    {
        // Prompt "a" is always answered correctly; "b" never is, except by a refinement (whose prompt, as the reward sees
        // its ids, is the long refinement instruction).
        var reward = new FunctionRewardSource("r", q => q.Prompt.StartsWith('a') || q.PromptIds.Length > 20 ? 1 : 0);
        var sampler = Sampler(reward);
        var batch = sampler.Tokenize([Prompt("a"), Prompt("b")]);
        var options = new SamplingOptions { MaxNewTokens = 4, NumReturnSequences = 4, Seed = 3 };
        var policy = Policy();
        var scored = sampler.Sample(policy, batch, options, null);
        var metrics = new Dictionary<string, double>();
        var (refined, offPolicy) = new CritiqueRefinement(2, CritiqueType.GroundTruth, 1f).Refine(policy, batch, scored, sampler, options, null, metrics, default);

        Assert.Equal(0.5, metrics["critique/refined_fraction"]);
        Assert.Equal(1.0, metrics["critique/refinement_correct"]);
        Assert.Equal([false, false, false, false, false, false, true, true], offPolicy);
        for (int row = 0; row < 6; row++) Assert.Same(scored.Samples[row], refined.Samples[row]);
        for (int row = 6; row < 8; row++)
        {
            // A refinement keeps its row's prompt and place, and is scored as the refinement it is.
            Assert.Equal(scored.Samples[row].PromptIds, refined.Samples[row].PromptIds);
            Assert.Equal((1, row - 4), (refined.Samples[row].PromptIndex, refined.Samples[row].SampleIndex));
            Assert.Equal(1f, refined.Scores[row]);
            Assert.Equal(1f, refined.Components[0].Scores[row]);
            Assert.Equal(refined.Samples[row].Text, refined.Requests[row].Completion);
        }
        Assert.Equal(scored.Scores[..6], refined.Scores[..6]);
    }

    [Fact]
    public void ACritiqueNeedsTheAnswerItQuotes()
    {
        var sampler = Sampler(new FunctionRewardSource("zero", _ => 0));
        var batch = sampler.Tokenize([new PromptOnlyExample(TextOrConversation.FromText("x?"))]);
        var options = new SamplingOptions { MaxNewTokens = 2, NumReturnSequences = 2, Seed = 1 };
        var policy = Policy();
        var scored = sampler.Sample(policy, batch, options, null);
        Assert.Contains("\"answer\"", Assert.Throws<InvalidDataException>(() =>
            new CritiqueRefinement(1, CritiqueType.GroundTruth, 1f).Refine(policy, batch, scored, sampler, options, null, [], default)).Message);
        // The indicative critique quotes nothing, so the record needs no answer.
        Assert.Equal(1, new CritiqueRefinement(1, CritiqueType.Indicative, 1f).Refine(policy, batch, scored, sampler, options, null, [], default).OffPolicy.Count(o => o));
    }

    [Fact]
    public void ACriticsCritiquesShapeTheRefinements()
    {
        var sampler = Sampler(new FunctionRewardSource("zero", _ => 0));
        var batch = sampler.Tokenize([Prompt("a"), Prompt("b")]);
        var options = new SamplingOptions { MaxNewTokens = 6, NumReturnSequences = 3, Seed = 4 };
        // Weights large enough that the next token depends on the context (a freshly initialised model's barely does).
        var policy = CausalLanguageModel.Create(Policy().Config with { InitializerRange = 0.5f }, seed: 2);
        var scored = sampler.Sample(policy, batch, options, null);
        Assert.Throws<ArgumentException>(() => new CritiqueRefinement(1, CritiqueType.Critic, 1f));
        string Refined(CritiqueRefinement refinement) =>
            string.Join("|", refinement.Refine(policy, batch, scored, sampler, options, null, [], default).Scored.Samples.Select(x => x.Text));
        // Two critics that write differently give the policy different refinement prompts, so different refinements;
        // the same critic gives the same ones.
        Reins.Rewards.Critics.GenerativeCritic Critic(ulong seed) => new(CausalLanguageModel.Create(Policy().Config with { InitializerRange = 0.5f }, seed), new TokenizerEncoder(Bytes),
            ids => Bytes.Decode(ids, skipSpecialTokens: true), new Reins.Rewards.Critics.CriticFormat("{problem}|{lines}|"), new SamplingOptions { MaxNewTokens = 12, Temperature = 0 });
        string one = Refined(new CritiqueRefinement(1, CritiqueType.Critic, 1f, Critic(5)));
        Assert.Equal(one, Refined(new CritiqueRefinement(1, CritiqueType.Critic, 1f, Critic(5))));
        Assert.NotEqual(one, Refined(new CritiqueRefinement(1, CritiqueType.Critic, 1f, Critic(6))));
        Assert.NotEqual(one, Refined(new CritiqueRefinement(1, CritiqueType.Indicative, 1f)));
    }

    [Fact]
    public void AGrpoRunLearnsFromRefinementsThroughPolicyShaping()
    {
        using var scratch = new Scratch();
        var config = new GrpoConfig
        {
            Training = new() { OutputDir = scratch.Dir("critique"), MaxSteps = 2, LearningRate = 1e-3f, LrSchedulerType = "constant", PerDeviceTrainBatchSize = 8, LoggingSteps = 1 },
            Online = new() { Sampling = new() { MaxCompletionLength = 4, MaxPromptLength = 200 } },
            Group = new() { NumGenerations = 4 },
            CritiqueRefinements = 1,
        };
        var reward = new FunctionRewardSource("contains", q => q.Completion.Contains(VerifiableRewards.Field(q, "answer", "contains")) ? 1 : 0);
        new GrpoTrainer(config, Policy(), null, new OnlineInputs(new TokenizerEncoder(Bytes), ids => Bytes.Decode(ids, skipSpecialTokens: true), reward,
            [.. "abcdefgh".Select(c => Prompt(c.ToString()))])).Train();
        var rows = Scratch.Metrics(config.Training.OutputDir);
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.InRange(r["critique/refined_fraction"]!.GetValue<double>(), 0, 1));
        // An untrained byte model rarely writes the answer letter in four bytes, so groups are refined and shaped tokens learned from.
        Assert.Contains(rows, r => r["critique/refined_fraction"]!.GetValue<double>() > 0 && double.IsFinite(r["loss/shaped_avg"]!.GetValue<double>()));
        Assert.Contains("\"critique_refinements\": 1", File.ReadAllText(Path.Combine(config.Training.OutputDir, "config.json")));
        Assert.Throws<ArgumentException>(() => (config with { CritiqueRefinements = 4 }).Validate());
    }
}
