"""`driftwarden report`: one model's results over a time range as a self-contained HTML
page (docs/report.md). ``data`` reads the result tables, ``render`` draws the page from
the plain values of ``content``, with no database."""
