"""tap-openai: OpenAI organization costs and usage as Singer streams."""
