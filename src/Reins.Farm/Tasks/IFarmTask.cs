using Reins.Feedback.Annotators;
using Reins.Feedback.Datasets;

namespace Reins.Farm.Tasks;

/// <summary>
/// One small world of the farm: prompts, demonstrations for SFT, a corpus to pre-train a tiny base model on, and the
/// gold reward that defines what the simulated humans truly want. Every generator is deterministic given its seed
/// and writes short ASCII text. To add a task, implement this and list it in <see cref="FarmTasks"/>.
/// </summary>
public interface IFarmTask
{
    /// <summary>Short name used on the command line and in results.json (e.g. "reviews").</summary>
    string Name { get; }

    /// <summary>A paragraph for the report and the README: what the prompts ask and what the gold reward measures.</summary>
    string Description { get; }

    /// <summary>
    /// True when the task is meant to be trained on its gold reward directly (the RLVR setting of GRPO and RLOO), false
    /// when the gold reward stays hidden behind simulated annotators.
    /// </summary>
    bool IsVerifiable { get; }

    /// <summary>
    /// <paramref name="count"/> prompts of <paramref name="split"/>, drawn with replacement; a prompt's split depends on its
    /// text alone (<see cref="PromptSampler.IsIn"/>), so train and eval never share a prompt. Task-specific fields
    /// (e.g. "answer") are in each example's <see cref="Example.Extra"/>.
    /// </summary>
    IReadOnlyList<PromptOnlyExample> Prompts(FarmSplit split, int count, ulong seed);

    /// <summary><paramref name="count"/> prompt–completion pairs for SFT, on training prompts only.</summary>
    IReadOnlyList<PromptCompletionExample> Demonstrations(int count, ulong seed);

    /// <summary><paramref name="documents"/> documents of the task's language for pre-training, from training prompts only.</summary>
    IReadOnlyList<string> PretrainingCorpus(int documents, ulong seed);

    /// <summary>
    /// The gold rewards a pointwise annotator rates 1 and 7: the task's poor and excellent responses, so ratings spread
    /// over the scale.
    /// </summary>
    RatingScale RatingScale { get; }

    /// <summary>
    /// How much the task's annotators and evaluators favour the longer response: the fraction of the gold range added to
    /// a response's utility per word (0 = no length bias).
    /// </summary>
    double LengthBias { get; }

    /// <summary>The gold reward of <paramref name="response"/> to <paramref name="prompt"/>; higher is better.</summary>
    double Gold(string prompt, string response);

    /// <summary>Whether responses solve step by step, one step per line, so <see cref="StepLabels"/> can judge each step.</summary>
    bool IsStepByStep => false;

    /// <summary>The gold label of each step of a step-by-step response (true: right), the truth process supervision is measured against.</summary>
    bool[] StepLabels(string prompt, IReadOnlyList<string> steps) => throw new NotSupportedException($"task {Name}: responses are not step by step.");
}
