"""first_line: the one line an error is reported with."""

from swinseg.core.errors import first_line


def test_first_line_of_a_message_or_the_type_name():
    assert first_line(ValueError("a.jpg: broken\nmore detail")) == "a.jpg: broken"
    assert first_line(OSError()) == "OSError"
    assert first_line(ValueError("  \n ")) == "ValueError"
    assert first_line(ValueError("a.jpg: broken"), strip_prefix="a.jpg: ") == "broken"
    assert first_line(ValueError("b.jpg: broken"), strip_prefix="a.jpg: ") == "b.jpg: broken"
