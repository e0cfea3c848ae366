"""Text-level XML surgery on AWS answers: find elements and their direct
children by name, read and replace element text. The answers are rewritten
as text (not re-serialised) so namespaces and layout stay exactly as moto
wrote them, which the SDK parsers expect."""

import re
from xml.sax.saxutils import escape, unescape

_TAG = re.compile(r"<(/?)([A-Za-z_][\w:.-]*)(?:\s[^>]*?)?(/?)>")


def elements(xml):
    """Yields (name, start, end, inner_start, inner_end, depth) for every
    element, in document order of their end tags."""
    stack = []
    for m in _TAG.finditer(xml):
        closing, name, selfclosing = m.group(1), m.group(2), m.group(3)
        if selfclosing:
            yield (name, m.start(), m.end(), m.end(), m.end(), len(stack))
        elif not closing:
            stack.append((name, m.start(), m.end()))
        else:
            while stack:
                oname, ostart, oinner = stack.pop()
                if oname == name:
                    yield (name, ostart, m.end(), oinner, m.start(), len(stack))
                    break


def find(xml, name):
    """The first (outermost) element named `name`: (start, end, inner_start,
    inner_end) or None."""
    best = None
    for el in elements(xml):
        if el[0] == name and (best is None or el[1] < best[0]):
            best = (el[1], el[2], el[3], el[4])
    return best


def children(xml, container):
    """Spans (start, end) of the direct children of the first element named
    `container`, in order."""
    box = find(xml, container)
    if box is None:
        return []
    start, end, inner_start, inner_end = box
    depth = None
    for el in elements(xml):
        if el[1] == start:
            depth = el[5]
    out = []
    for el in elements(xml):
        if el[1] >= inner_start and el[2] <= inner_end and el[5] == depth + 1:
            out.append((el[1], el[2]))
    return sorted(out)


def text(fragment, name):
    """Text of the first element named `name` in `fragment`, unescaped, or None."""
    m = re.search(r"<%s(?:\s[^>]*)?>(.*?)</%s>" % (re.escape(name), re.escape(name)), fragment, re.S)
    return unescape(m.group(1)) if m else None


def texts(fragment, name):
    return [unescape(v) for v in re.findall(r"<%s(?:\s[^>]*)?>(.*?)</%s>" % (re.escape(name), re.escape(name)), fragment, re.S)]


def set_text(fragment, name, value):
    """Replaces the text of the first element named `name` (if any)."""
    pat = re.compile(r"(<%s(?:\s[^>]*)?>)(.*?)(</%s>)" % (re.escape(name), re.escape(name)), re.S)
    return pat.sub(lambda m: m.group(1) + escape(value) + m.group(3), fragment, count=1)


def remove(fragment, name):
    """Removes the first element named `name` (with its content)."""
    box = find(fragment, name)
    if box is None:
        return fragment
    return fragment[: box[0]] + fragment[box[1]:]


def splice(xml, edits):
    """Applies [(start, end, replacement)] edits (non-overlapping)."""
    for start, end, repl in sorted(edits, reverse=True):
        xml = xml[:start] + repl + xml[end:]
    return xml


def insert_into(xml, container, items):
    """Appends raw XML `items` at the end of the first element named
    `container`; expands a self-closing `<container/>`."""
    box = find(xml, container)
    if box is None or not items:
        return xml
    start, end, inner_start, inner_end = box
    if inner_start == end:  # self-closing
        return xml[:start] + "<%s>%s</%s>" % (container, "".join(items), container) + xml[end:]
    return xml[:inner_end] + "".join(items) + xml[inner_end:]
