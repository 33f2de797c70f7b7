namespace Reins.Cli.Commands;

/// <summary>
/// The errors a user can fix (a missing, malformed or unwritable file, a full disk, a bad argument or setting):
/// printed as one line on stderr with exit code 1, since their messages already name the file, line or field and a
/// stack trace would bury them. A timeout names the source that did not answer and the flag that sets the limit; a
/// non-finite loss, the step and what to change.
/// </summary>
internal static class UserErrors
{
    public static bool Is(Exception e) => e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or TimeoutException or Feedback.Datasets.DatasetException or Alignment.Training.NonFiniteTrainingException;
}
