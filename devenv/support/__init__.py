"""Small pieces every runner uses: one run at a time per project, stopping child processes."""
