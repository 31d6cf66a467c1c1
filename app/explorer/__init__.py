"""The latent explorer: the latent map, the decoded view and the explorer's pages (the controller
is `app.controllers.explorer.LatentExplorer`)."""
