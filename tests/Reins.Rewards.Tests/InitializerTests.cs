using Reins.Feedback.Tokenization;
using Reins.Models.Chat;
using Reins.Models.Transformers;
using Reins.Rewards.RewardModels;
using Reins.Tensors;

namespace Reins.Rewards.Tests;

/// <summary>Turning a causal language model into a …ForSequenceClassification reward model.</summary>
public class InitializerTests
{
    [Fact]
    public void TrunkIsCopiedAndTheHeadIsFreshPerSeed()
    {
        var lm = TinySetup.LanguageModel();
        var a = RewardModelInitializer.FromLanguageModel(lm, numLabels: 1, padTokenId: 258, seed: 1);
        var b = RewardModelInitializer.FromLanguageModel(lm, numLabels: 1, padTokenId: 258, seed: 2);
        Assert.Equal(1, a.Config.NumLabels);
        Assert.Equal(258, a.Config.PadTokenId);
        Assert.False(a.HasParameter("lm_head.weight"));
        int[] ids = [256, 113, 58, 97, 98, 257];
        using (new Tape(recordGradients: false))
            Assert.Equal(lm.Hidden(new ModelInput(ids, 1, ids.Length)).ToArray(), a.Hidden(new ModelInput(ids, 1, ids.Length)).ToArray());
        Assert.NotEqual(a.ScoreWeight!.ToArray(), b.ScoreWeight!.ToArray());

        // A reward model of the same width keeps its head; another width gets a new one.
        var again = RewardModelInitializer.FromLanguageModel(a, numLabels: 1, padTokenId: 258, seed: 9);
        Assert.Equal(a.ScoreWeight!.ToArray(), again.ScoreWeight!.ToArray());
        Assert.Equal([3, 32], RewardModelInitializer.FromLanguageModel(a, numLabels: 3, padTokenId: 258, seed: 9).ScoreWeight!.Shape);
    }

    [Fact]
    public void LlamaWithAnUntiedHeadBecomesAClassifierWithoutIt()
    {
        var lm = CausalLanguageModel.Create(ModelConfig.Llama(vocab: 260, hidden: 32, layers: 2, heads: 4, maxPositions: 32, kvHeads: 2, tie: false), seed: 3);
        Assert.True(lm.HasParameter("lm_head.weight"));
        var rm = RewardModelInitializer.FromLanguageModel(lm, numLabels: 2, padTokenId: 258, seed: 4);
        Assert.Equal("LlamaForSequenceClassification", rm.Config.Architecture);
        Assert.False(rm.HasParameter("lm_head.weight"));
        Assert.Equal(lm["model.layers.1.mlp.down_proj.weight"].ToArray(), rm["model.layers.1.mlp.down_proj.weight"].ToArray());
        using var tape = new Tape(recordGradients: false);
        int[] ids = [256, 97, 98, 257, 258, 258];
        var scores = new RewardModel(rm).RawScores([new([256, 97, 98, 257], [])], batchSize: 1);
        // Right padding is masked: the padded row scores as the bare one.
        Assert.Equal(scores, rm.Scores(ModelInput.Padded(ids, 1, 6, [1, 1, 1, 1, 0, 0])).ToArray());
    }

    [Fact]
    public void PadMustDifferFromEos()
    {
        Assert.Equal(258, RewardModelInitializer.PaddingTokenId(TinySetup.Encoder));
        Assert.Equal(5, RewardModelInitializer.PaddingTokenId(new Specials(bos: 5, eos: 7, pad: 7)));
        var error = Assert.Throws<ArgumentException>(() => RewardModelInitializer.PaddingTokenId(new Specials(bos: 7, eos: 7, pad: null)));
        Assert.Contains("pad token", error.Message);
        Assert.Throws<ArgumentException>(() => RewardModelInitializer.FromLanguageModel(TinySetup.LanguageModel(), 1, padTokenId: 257, seed: 0));
    }

    private sealed class Specials(int? bos, int? eos, int? pad) : ITextEncoder
    {
        public int? BosId => bos;
        public int? EosId => eos;
        public int? PadId => pad;
        public int[] Encode(string text) => [];
        public (int[] Ids, bool[] AssistantMask) EncodeConversation(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => ([], []);
    }
}
