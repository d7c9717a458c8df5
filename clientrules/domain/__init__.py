"""The pure core: events, facts, rules, decisions, the questionnaire and the learning maths.

No I/O, no globals, no clock: everything here is a function of its arguments,
and nothing here imports the layers above it.
"""
