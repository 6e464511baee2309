"""Pure helpers: API answers in, rows/strings/chart data out. No Streamlit, no I/O."""
