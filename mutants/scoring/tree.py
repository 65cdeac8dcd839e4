"""The scratch copy of the tree that mutation_score.py mutates and builds."""
import os
import shutil

IGNORE = ("build", ".venv", ".git")


def sync_tree(src, dst):
    """Make dst's sources equal to src's (by content; the build folder is left alone)."""
    remove_stale(src, dst, copy_changed(src, dst))


def copy_changed(src, dst):
    """Copies each file of src (but IGNORE) whose content differs in dst; returns dst's paths of them all."""
    ign = shutil.ignore_patterns(*IGNORE)
    seen = set()
    for d, dirs, files in os.walk(src):
        rel = os.path.relpath(d, src)
        skip = ign(d, dirs + files)
        dirs[:] = [x for x in dirs if x not in skip]
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            if f in skip:
                continue
            s, t = os.path.join(d, f), os.path.normpath(os.path.join(dst, rel, f))
            seen.add(t)
            if os.path.islink(s):
                continue
            if not os.path.exists(t) or open(s, "rb").read() != open(t, "rb").read():
                shutil.copyfile(s, t)
                shutil.copymode(s, t)
    return seen


def remove_stale(src, dst, seen):
    """Removes the files of dst (outside its top-level IGNORE folders) that src no longer has."""
    for d, dirs, files in os.walk(dst):
        rel = os.path.relpath(d, dst)
        dirs[:] = [x for x in dirs if not (rel == "." and x in IGNORE)]
        for f in files:
            t = os.path.normpath(os.path.join(d, f))
            if t not in seen and not os.path.exists(os.path.join(src, os.path.relpath(t, dst))):
                os.remove(t)
