"""The studio: a Streamlit app for people who do not write code.

It is a client of the registry and gateway REST APIs only (``api.py``); pages live in
``screens/`` (one script each), shared widgets in ``ui.py``, and the pure shaping of API
answers into tables, badges and chart data in ``views/`` (tested without I/O).
"""
