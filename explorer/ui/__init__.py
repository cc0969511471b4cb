"""The Gradio adapter: layout, events and argument checks. The only package that imports gradio."""
