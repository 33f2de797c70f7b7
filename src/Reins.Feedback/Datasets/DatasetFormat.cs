namespace Reins.Feedback.Datasets;

/// <summary>The dataset types of TRL's conventions (plus ratings, ranked lists and raw Anthropic HH-RLHF).</summary>
public enum DatasetFormat
{
    /// <summary>Decide from the keys of the first valid record.</summary>
    Auto,
    /// <summary><c>text</c> or <c>messages</c>: <see cref="LanguageModelingExample"/>.</summary>
    LanguageModeling,
    /// <summary><c>prompt</c> alone: <see cref="PromptOnlyExample"/>; any other field is kept as extra.</summary>
    PromptOnly,
    /// <summary><c>prompt</c>, <c>completion</c>: <see cref="PromptCompletionExample"/>.</summary>
    PromptCompletion,
    /// <summary><c>prompt</c>, <c>chosen</c>, <c>rejected</c>, or the implicit-prompt form without <c>prompt</c>: <see cref="PreferenceExample"/>.</summary>
    Preference,
    /// <summary><c>prompt</c>, <c>completion</c>, <c>label</c> (bool): <see cref="UnpairedPreferenceExample"/>.</summary>
    UnpairedPreference,
    /// <summary><c>prompt</c>, <c>response</c> and numeric attributes: <see cref="RatingExample"/>.</summary>
    Ratings,
    /// <summary><c>prompt</c>, <c>completions</c>, <c>ranks</c>: <see cref="RankedExample"/>.</summary>
    RankedList,
    /// <summary><c>prompt</c>, <c>completions</c>, <c>labels</c>: <see cref="StepwiseExample"/>.</summary>
    StepwiseSupervision,
    /// <summary>
    /// Math-Shepherd's raw form: <c>input</c> holds the problem and steps each ending in the step tag <c>ки</c>, <c>label</c>
    /// the same text with <c>+</c> (correct) or <c>-</c> in place of each tag; read as <see cref="StepwiseExample"/>.
    /// </summary>
    MathShepherd,
    /// <summary>PKU-SafeRLHF: <c>prompt</c>, <c>response_0</c>, <c>response_1</c>, <c>is_response_0_safe</c>, <c>is_response_1_safe</c>, <c>better_response_id</c>, <c>safer_response_id</c>: <see cref="SafetyPreferenceExample"/>.</summary>
    SafetyPreference,
    /// <summary>BeaverTails: <c>prompt</c>, <c>response</c>, <c>is_safe</c>: <see cref="SafetyLabelExample"/>.</summary>
    SafetyLabel,
    /// <summary>Raw Anthropic HH-RLHF: <c>chosen</c>/<c>rejected</c> transcripts of "\n\nHuman: …\n\nAssistant: …", read as conversational <see cref="PreferenceExample"/>.</summary>
    AnthropicHh,
}
