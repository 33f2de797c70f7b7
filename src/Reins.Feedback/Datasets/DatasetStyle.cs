namespace Reins.Feedback.Datasets;

/// <summary>TRL's two dataset styles; every record of a dataset has the style of its first.</summary>
public enum DatasetStyle
{
    /// <summary>Fields are plain strings.</summary>
    Standard,
    /// <summary>Fields are lists of <c>{"role", "content"}</c> messages, rendered by the chat template.</summary>
    Conversational,
}
