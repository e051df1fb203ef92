"""Count words in the text files shipped with the app, one task per file."""
import os

from rt import map_spawn

from textutil import words

HERE = os.path.dirname(os.path.abspath(__file__))


def count_file(name):
    with open(os.path.join(HERE, "data", name)) as f:
        return len(words(f.read()))


def handler(event, context):
    names = sorted(n for n in os.listdir(os.path.join(HERE, "data")) if n.endswith(".txt"))
    counts = map_spawn(count_file, names)
    return {name: fut.wait() for name, fut in zip(names, counts)}
