"""The Gradio adapter: layout, events and argument checks (Gradio is imported here, by app.py and by
explorer/server/ only)."""
