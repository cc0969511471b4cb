"""Views: plain functions from the shared inputs (image, t, seed, selections) to pictures, text and figures.

They never import gradio, so tests, the benchmark and the UI call the same code.
"""
