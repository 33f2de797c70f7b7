using Reins.Farm.Pipeline;
using Reins.Farm.Tasks;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Rewards.Sources;

namespace Reins.Farm.Tests;

/// <summary>The farm samples and scores through the trainers' sampler: each completion is scored against its own prompt.</summary>
public sealed class FarmSamplingTests
{
    // Records the prompt every request was scored against.
    private sealed class PromptRecorder : IRewardSource
    {
        public List<string> Prompts { get; } = [];
        public string Name => "recorder";
        public float[] Score(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellation = default)
        {
            Prompts.AddRange(requests.Select(r => r.Prompt));
            return new float[requests.Count];
        }
    }

    [Fact]
    public void EverySampleIsScoredAgainstItsOwnPromptBeyondTheFirstGenerationCall()
    {
        // 40 prompts: generation runs in calls of 32, so the last 8 come from a second call (before the fix, scored against prompts 0–7).
        var task = FarmTasks.Get("arithmetic");
        var config = FarmConfig.Quick;
        var tokenizer = Tokenizer.CreateByteLevel(config.Vocab);
        var dir = Directory.CreateTempSubdirectory("reins-farm-sampling-").FullName;
        try
        {
            var farm = new FarmContext(task, config, 3, dir, tokenizer, _ => { }, null);
            var policy = CausalLanguageModel.Create(ModelConfig.Gpt2(tokenizer.VocabSize, 32, 1, 2, config.Context) with
            {
                BosTokenId = tokenizer.BosId, EosTokenId = tokenizer.EosId, PadTokenId = tokenizer.PadId,
            }, seed: 1);
            var prompts = task.Prompts(FarmSplit.Eval, 40, seed: 5);
            var samples = farm.Sample(policy, prompts, 2, seed: 9);
            var recorder = new PromptRecorder();
            farm.Score(recorder, prompts, samples);
            Assert.Equal(prompts.SelectMany(p => new[] { p.Prompt.Text, p.Prompt.Text }), recorder.Prompts);
            Assert.Equal(Enumerable.Range(0, 80).Select(i => i / 2), samples.Select(s => s.PromptIndex));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
