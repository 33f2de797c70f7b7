using Reins.Feedback.Tokenization;
using Reins.Models.Transformers;

namespace Reins.Alignment.Training;

/// <summary>What the command line needs of any trainer, offline (<see cref="OfflineTrainer{TConfig}"/>), online (<see cref="Online.OnlineTrainer{TBatch}"/>) or iterative.</summary>
public interface ITrainer
{
    /// <summary>The model being trained (the policy).</summary>
    CausalLanguageModel Model { get; }

    /// <summary>The run's output directory.</summary>
    RunDirectory Run { get; }

    /// <summary>What tokenising the training data reported, when the trainer tokenises it.</summary>
    TokenizationReport? DataReport { get; }

    /// <summary>Runs to the configured number of steps, resuming from the latest checkpoint when <paramref name="resume"/> is set.</summary>
    TrainResult Train(bool resume = false, CancellationToken cancellation = default, IProgress<(long Step, long Total, IReadOnlyDictionary<string, double> Metrics)>? progress = null);
}
