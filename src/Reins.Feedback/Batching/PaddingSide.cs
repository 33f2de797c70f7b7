namespace Reins.Feedback.Batching;

/// <summary>Where padding goes in a batch row.</summary>
public enum PaddingSide
{
    /// <summary>After the tokens: the usual side for training.</summary>
    Right,
    /// <summary>Before the tokens, so every row's last real token is at the same position: needed for generation.</summary>
    Left,
}
