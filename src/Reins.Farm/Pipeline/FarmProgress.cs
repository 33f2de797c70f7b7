namespace Reins.Farm.Pipeline;

/// <summary>A training step of one farm stage (e.g. "sft", "ppo"), for progress bars.</summary>
public sealed record FarmProgress(string Stage, long Step, long Total);
