using Reins.Alignment.BestOfN;
using Reins.Alignment.Online;
using Reins.Models.Generation;

namespace Reins.Alignment.Tests.Online;

/// <summary>Best-of-n keeps the highest-scoring samples of each prompt, and a prompt's samples do not depend on the batching.</summary>
public class BestOfNTests
{
    [Fact]
    public void TopIsBestFirstWithTiesInSampleOrder() => Assert.Equal([1, 2, 3], BestOfNSampler.Top([0.1f, 0.5f, 0.5f, 0.2f], 3));

    [Fact]
    public void VotingPicksTheAnswerWithTheMostVotesThenItsBestSample()
    {
        // Majority: "4" has three votes to "5"'s two; among the "4"s the best score is sample 3.
        Assert.Equal((3, 3.0), BestOfNSampler.Vote(["4", "5", "4", "4", "5"], [0.1f, 0.9f, 0.2f, 0.3f, 0.8f], weighted: false));
        // Weighted: "5" sums 1.7 against "4"'s 0.6; its best sample is 1.
        var (index, votes) = BestOfNSampler.Vote(["4", "5", "4", "4", "5"], [0.1f, 0.9f, 0.2f, 0.3f, 0.8f], weighted: true);
        Assert.Equal(1, index);
        Assert.Equal(1.7, votes, 6);
        // A tie goes to the answer seen first.
        Assert.Equal(0, BestOfNSampler.Vote(["a", "b"], [0.5f, 0.5f], weighted: true).Index);
        Assert.Throws<ArgumentException>(() => BestOfNSampler.Vote(["a"], [-1f], weighted: true));
    }

    [Fact]
    public void VotingKeepsOneSampleOfTheWinningAnswer()
    {
        var policy = TinyTask.Model();
        var sampler = new CompletionSampler(new TinyTask(), TinyTask.Decode, TinyTask.Reward(), maxPromptLength: 8);
        var options = new SamplingOptions { MaxNewTokens = 1, NumReturnSequences = 8, Seed = 5 };
        var prompts = TinyTask.Prompts("ab");
        var kept = BestOfNSampler.Sample(policy, sampler, prompts, options, keepTop: 1, promptsPerBatch: 2, voting: Voting.Majority).ToList();
        Assert.Equal(2, kept.Count);
        var all = sampler.Sample(policy, sampler.Tokenize([prompts[0]]), options with { PromptSeeds = [options.Seed * 1_000_003UL] }, null);
        var answers = all.Samples.Select(s => TinyTask.Decode(s.Tokens)).ToArray();
        var top = answers.GroupBy(a => a).Max(g => g.Count());
        Assert.Equal(top, kept[0].Votes);
        Assert.Equal(top, answers.Count(a => a == TinyTask.Decode(kept[0].Sample.Tokens)));
        Assert.Throws<ArgumentException>(() => BestOfNSampler.Sample(policy, sampler, prompts, options, keepTop: 2, promptsPerBatch: 2, voting: Voting.Majority).ToList());
    }

    [Fact]
    public void KeepsTheBestOfEachPromptWhateverTheBatching()
    {
        var policy = TinyTask.Model();
        var sampler = new CompletionSampler(new TinyTask(), TinyTask.Decode, TinyTask.Reward(), maxPromptLength: 8);
        var options = new SamplingOptions { MaxNewTokens = 4, NumReturnSequences = 6, Seed = 7 };
        var prompts = TinyTask.Prompts();
        var one = BestOfNSampler.Sample(policy, sampler, prompts, options, keepTop: 2, promptsPerBatch: 1).ToList();
        var four = BestOfNSampler.Sample(policy, sampler, prompts, options, keepTop: 2, promptsPerBatch: 4).ToList();
        Assert.Equal(12, one.Count);
        Assert.Equal(one.Select(k => (k.Source, string.Join(",", k.Sample.Tokens), k.Reward, k.Rank)), four.Select(k => (k.Source, string.Join(",", k.Sample.Tokens), k.Reward, k.Rank)));

        // Rank 0 is the best of all six samples of its prompt: none of them, regenerated alone, scores higher.
        var all = sampler.Sample(policy, sampler.Tokenize([prompts[0]]), options with { PromptSeeds = [options.Seed * 1_000_003UL] }, null);
        Assert.Equal(all.Scores.Max(), one[0].Reward);
        Assert.True(one[0].Reward >= one[1].Reward);
        Assert.Equal(one[0].Reward, one[0].Rewards["copy"]);
    }

    [Fact]
    public void GenerateAllNumbersPromptsInTheWholeListWhateverTheBatching()
    {
        var policy = TinyTask.Model();
        var sampler = new CompletionSampler(new TinyTask(), TinyTask.Decode, TinyTask.Reward(), maxPromptLength: 8);
        var prompts = sampler.Tokenize(TinyTask.Prompts("abcdefghij"));
        var options = new SamplingOptions { MaxNewTokens = 4, NumReturnSequences = 2, Seed = 11 };
        var inThrees = sampler.GenerateAll(policy, prompts, options, promptsPerCall: 3);
        var atOnce = sampler.GenerateAll(policy, prompts, options, promptsPerCall: 10);
        Assert.Equal(Enumerable.Range(0, 20).Select(r => r / 2), inThrees.Select(s => s.PromptIndex));
        Assert.Equal(atOnce.Select(s => string.Join(",", s.Tokens)), inThrees.Select(s => string.Join(",", s.Tokens)));
        // Scoring reads each sample's own prompt record, the last call's as much as the first's.
        var scored = sampler.Score(prompts, inThrees, missingEosPenalty: null);
        Assert.Equal(inThrees.Select(s => prompts[s.PromptIndex].Source.Prompt.Text), scored.Requests.Select(r => r.Prompt));
        Assert.Equal(Enumerable.Range(0, 20).Select(r => "abcdefghij"[r / 2].ToString()), scored.Requests.Select(r => r.Extra["answer"].GetString()));
    }
}
