namespace Reins.Cli.Commands;

/// <summary>
/// The errors a user can fix (a missing or malformed file, a bad argument or setting): printed as one line on stderr
/// with exit code 1, since their messages already name the file, line or field and a stack trace would bury them. A
/// timeout names the source that did not answer and the flag that sets the limit.
/// </summary>
internal static class UserErrors
{
    public static bool Is(Exception e) => e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException or TimeoutException or Feedback.Datasets.DatasetException;
}
