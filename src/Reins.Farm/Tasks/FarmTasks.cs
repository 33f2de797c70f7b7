using Reins.Farm.Tasks.Arithmetic;
using Reins.Farm.Tasks.Cyclic;
using Reins.Farm.Tasks.Instructions;
using Reins.Farm.Tasks.Pluralistic;
using Reins.Farm.Tasks.Reviews;
using Reins.Farm.Tasks.Safety;

namespace Reins.Farm.Tasks;

/// <summary>The built-in tasks, by name.</summary>
public static class FarmTasks
{
    /// <summary>Every built-in task with its default settings.</summary>
    public static IReadOnlyList<IFarmTask> All { get; } = [new ReviewsTask(), new ArithmeticTask(), new InstructionsTask(), new ArithmeticTask(stepByStep: true), new SafetyTask(), new CyclicTask(),
        new PluralisticTask()];

    /// <summary>The built-in task called <paramref name="name"/>.</summary>
    public static IFarmTask Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"no farm task \"{name}\"; the tasks are {string.Join(", ", All.Select(t => t.Name))}", nameof(name));
}
