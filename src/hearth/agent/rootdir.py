"""A directory tree that paths cannot escape, even while something else changes it.

:class:`RootDir` opens its directory once and resolves every path beneath that descriptor, one
component at a time, each opened with ``O_NOFOLLOW`` relative to the one before (what Linux's
``openat2(RESOLVE_BENEATH)`` does in the kernel, written with the calls Python has):

* a symlink is never followed by the kernel: its target is read and resolved the same way, so one
  that leads inside the tree works and one that leads outside is refused, however it was made
  and whenever it was swapped in. A path that does not exist yet cannot be turned into a way
  out either: there is no check-then-use gap, only descriptors;
* ``..`` from the model is refused; ``..`` inside a symlink's target may climb back up, never
  above the root; at most :data:`MAX_SYMLINKS` symlinks are followed (a loop is an error);
* :meth:`RootDir.open_file` refuses anything but a regular file — FIFOs (which would block),
  sockets, device nodes (which may act when opened) — from its ``lstat`` before opening, then
  opens with ``O_NONBLOCK`` and checks again on the descriptor; and it refuses a file with more
  than one hard link, which may be the same file as one outside the tree.
"""

from __future__ import annotations

import errno
import os
import stat
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symlink"),
)


class PathOutsideRootError(PermissionError):
    """The path leads outside the root directory."""


class UnsafeFileError(PermissionError):
    """The path names something the tools do not open: not a regular file, or hard-linked."""


def kind_of(mode: int) -> str:
    """'a FIFO (named pipe)', 'a socket', … for a file mode that is not a regular file."""
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


class RootDir:
    """The directory ``path``, held open; paths given to its methods are relative to it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        try:
            self._fd = os.open(self.path, _DIR_FLAGS)
        except OSError as exc:
            raise NotADirectoryError(f"the tools' root {path!s} is not a directory") from exc
        weakref.finalize(self, os.close, self._fd)

    # -- resolving -----------------------------------------------------------------------------

    def parts(self, path: str) -> list[str]:
        """The components of ``path`` beneath the root; refuses ``..`` and absolute paths (the
        tools' schemas admit relative paths only)."""
        raw = PurePosixPath(path or ".")
        if ".." in raw.parts:
            raise PathOutsideRootError(f"'..' is not allowed in paths ({path!r}); stay in the root")
        if raw.is_absolute() or path.startswith(("/", "\\")):
            raise PathOutsideRootError(
                f"{path!r} is an absolute path; paths are relative to the root directory, "
                "such as '.' (the root) or 'notes/todo.txt'"
            )
        return [p for p in raw.parts if p not in ("", ".")]

    def show(self, parts: list[str]) -> str:
        return "/".join(parts) or "."

    @contextmanager
    def parent(
        self, path: str, *, follow_last: bool = True, create: bool = False
    ) -> Iterator[tuple[int, str, list[str]]]:
        """(descriptor of the directory holding the last component, its name, the components)
        for ``path``; the name is "" for the root itself. Symlinks on the way are resolved
        beneath the root, the last one too when ``follow_last``; ``create`` makes missing
        directories on the way."""
        parts = self.parts(path)
        stack = [os.dup(self._fd)]
        try:
            name = self._walk(path, parts, stack, follow_last=follow_last, create=create)
            yield stack[-1], name, parts
        finally:
            for fd in stack:
                os.close(fd)

    def _walk(
        self, path: str, todo: list[str], stack: list[int], *, follow_last: bool, create: bool
    ) -> str:
        todo = list(todo)
        hops = 0
        while todo:
            name = todo.pop(0)
            if name == ".":
                continue
            if name == "..":
                if len(stack) == 1:
                    raise self._outside(path)
                os.close(stack.pop())
                continue
            if not todo and not follow_last:
                return name
            target = _readlink(name, stack[-1])
            if target is not None:
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, f"{path!r}: too many levels of symlinks (a loop?)")
                todo = self._splice(path, target, stack) + todo
                continue
            if not todo:
                return name
            stack.append(self._open_dir(path, name, stack[-1], create=create))
        return ""

    def _splice(self, path: str, target: str, stack: list[int]) -> list[str]:
        """The components of a symlink's ``target``; an absolute one restarts at the root."""
        link = PurePosixPath(target)
        if link.is_absolute():
            try:
                link = link.relative_to(self.path.as_posix())
            except ValueError:
                raise self._outside(path) from None
            while len(stack) > 1:
                os.close(stack.pop())
        return [p for p in link.parts if p not in ("", ".")]

    def _open_dir(self, path: str, name: str, at: int, *, create: bool) -> int:
        try:
            return _open_dir_at(name, at, path)
        except FileNotFoundError:
            if not create:
                raise FileNotFoundError(f"no directory {name!r} on the way to {path!r}") from None
        os.mkdir(name, 0o755, dir_fd=at)
        return _open_dir_at(name, at, path)

    def _outside(self, path: str) -> PathOutsideRootError:
        return PathOutsideRootError(
            f"{path!r} is outside the root directory (a symlink that leads outside it); "
            "use paths relative to the root, such as '.'"
        )

    # -- opening -------------------------------------------------------------------------------

    def open_dir(self, path: str) -> int:
        """A new descriptor of the directory ``path`` (the caller closes it)."""
        with self.parent(path) as (at, name, _):
            if not name:
                return os.dup(at)
            try:
                return _open_dir_at(name, at, path)
            except NotADirectoryError:
                raise NotADirectoryError(f"{path!r} is not a directory under the root") from None

    def open_file(self, path: str, *, write: bool = False) -> int:
        """A descriptor of the regular file ``path``, for reading, or for writing (created if
        missing; symlinks at the end are not followed). See the module docstring for what is
        refused."""
        with self.parent(path, follow_last=not write, create=write) as (at, name, _):
            if not name:
                raise IsADirectoryError(f"{path!r} is a directory")
            if write and _readlink(name, at) is not None:
                self._refuse_symlink_write(path)
            return open_beneath(at, name, path, write=write)

    def _refuse_symlink_write(self, path: str) -> None:
        """A write to a symlink: outside the root if it leads there, else refused anyway."""
        with self.parent(path) as (_, __, ___):  # raises if it leads outside the root
            pass
        raise UnsafeFileError(
            f"{path!r} is a symlink; write_file does not follow symlinks: write to the file it "
            "points to"
        )


def _open_dir_at(name: str, at: int, path: str) -> int:
    """Open the directory ``name`` in ``at``, never through a symlink: one that appeared
    since it was looked at is an error, not followed."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=at)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _readlink(name, at) is not None:
            raise UnsafeFileError(
                f"{path!r}: {name!r} changed while it was being opened; not followed"
            ) from None
        if exc.errno == errno.ENOTDIR:
            raise NotADirectoryError(f"{path!r}: {name!r} is not a directory") from None
        raise


def _readlink(name: str, at: int) -> str | None:
    """The target of ``name`` if it is a symlink, else None."""
    try:
        return os.readlink(name, dir_fd=at)
    except OSError:  # not a symlink, or not there
        return None


def open_beneath(at: int, name: str, shown: str, *, write: bool = False) -> int:
    """Open the regular file ``name`` in the directory ``at``: refused before opening if it is
    not one, opened with O_NOFOLLOW | O_NONBLOCK, checked again on the descriptor (same file,
    still regular, one hard link)."""
    try:
        before: os.stat_result | None = os.stat(name, dir_fd=at, follow_symlinks=False)
    except FileNotFoundError:
        if not write:
            raise FileNotFoundError(f"no file {shown!r} under the root") from None
        before = None
    if before is not None:
        _check_kind(before, shown, write=write)
    flags = _FILE_FLAGS | (os.O_WRONLY | os.O_CREAT if write else os.O_RDONLY)
    try:
        fd = os.open(name, flags, 0o644, dir_fd=at)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EMLINK):
            raise UnsafeFileError(
                f"{shown!r} changed while it was being opened; not opened"
            ) from None
        raise
    try:
        after = os.fstat(fd)
        _check_kind(after, shown, write=write)
        same = before is None or (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
        if not same:
            raise UnsafeFileError(f"{shown!r} changed while it was being opened; not opened")
        if after.st_nlink > 1:
            raise UnsafeFileError(
                f"{shown!r} has {after.st_nlink} hard links: it may be a file outside the root "
                f"under another name, so it is not {'written' if write else 'read'}"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_kind(st: os.stat_result, shown: str, *, write: bool) -> None:
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{shown!r} is a directory")
    raise UnsafeFileError(
        f"{shown!r} is {kind_of(st.st_mode)}, not a regular file; file tools "
        f"{'write' if write else 'read'} regular files only"
    )
