"""batchcall: bulk outbound engagements by AI agents."""
