namespace Reins.Feedback.Datasets;

/// <summary>
/// Step-wise supervision (TRL, for process reward models): <c>{"prompt": "…", "completions": ["step 1", "step 2"],
/// "labels": [true, false]}</c>, one correctness label per reasoning step. TRL defines it for standard text only.
/// </summary>
/// <param name="Prompt">The problem.</param>
/// <param name="Steps">The reasoning steps (the file's <c>completions</c>).</param>
/// <param name="Labels">One label per step, true when the step is correct.</param>
public sealed record StepwiseExample(string Prompt, IReadOnlyList<string> Steps, IReadOnlyList<bool> Labels) : Example;
