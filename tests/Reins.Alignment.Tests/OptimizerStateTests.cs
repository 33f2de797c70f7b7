using Reins.Alignment.Training;
using Reins.Models.Checkpoints;
using Reins.Models.Transformers;
using Reins.Tensors;
using Reins.Tensors.Optim;

namespace Reins.Alignment.Tests;

/// <summary>optimizer.safetensors: the optimiser's moments and step count and the run's RNG, so a resumed run continues bit-identically.</summary>
public class OptimizerStateTests
{
    [Fact]
    public void ResumingFromSavedWeightsOptimizerAndRngContinuesBitIdentically()
    {
        var config = ModelConfig.Gpt2(vocab: 30, hidden: 16, layers: 1, heads: 2, maxPositions: 16);
        var dir = Path.Combine(Path.GetTempPath(), "reins-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            float Step(CausalLanguageModel m, AdamW opt, Rng rng)
            {
                var ids = Enumerable.Range(0, 16).Select(_ => rng.NextInt(30)).ToArray();
                float value;
                using (var tape = new Tape())
                {
                    var loss = m.Loss(new ModelInput(ids, 2, 8), ids.Skip(1).Append(-100).ToArray());
                    value = loss.Item();
                    opt.ZeroGrad();
                    tape.Backward(loss);
                }
                opt.Step();
                return value;
            }
            var model = CausalLanguageModel.Create(config, 1);
            var optimizer = new AdamW(model.Parameters, 1e-2f);
            var data = new Rng(9);
            for (int i = 0; i < 3; i++) Step(model, optimizer, data);
            HfCheckpoint.Save(model, dir);
            OptimizerState.Save(Path.Combine(dir, OptimizerState.FileName), optimizer, data);
            var uninterrupted = Enumerable.Range(0, 3).Select(_ => Step(model, optimizer, data)).ToArray();

            var resumed = HfCheckpoint.Load(dir);
            var resumedOpt = new AdamW(resumed.Parameters, 0f);
            var resumedData = new Rng(0);
            OptimizerState.Load(Path.Combine(dir, OptimizerState.FileName), resumedOpt, resumedData);
            var continued = Enumerable.Range(0, 3).Select(_ => Step(resumed, resumedOpt, resumedData)).ToArray();
            Assert.Equal(uninterrupted, continued);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
