"""What the run's settings are called on screen and what each does, in the theory's terms: a
generative model p_θ(x, z) = p(z) p_θ(x|z), an encoder q_φ(z|x) that approximates its posterior,
trained by maximising the ELBO = E_q[log p_θ(x|z)] - β KL(q_φ(z|x) || p(z)).

Each registry name maps to (the words shown, the tooltip that explains it); names missing here
show as they are.
"""

from __future__ import annotations

FAMILIES = {
    "vae": (
        "VAE",
        (
            "the variational autoencoder: the encoder gives a Gaussian q(z|x) for each image, the decoder "
            "p(x|z) turns a code back into an image, and training maximises the ELBO."
        ),
    ),
    "cvae": (
        "conditional VAE",
        (
            "encoder and decoder are both told the class label y, so the code z is free to hold what the "
            "label does not say (the style); one code decodes to every class in that style."
        ),
    ),
    "vqvae": (
        "VQ-VAE",
        (
            "the vector-quantised autoencoder: each code is the nearest of K learned codebook vectors, not "
            "a Gaussian; there is no KL to weigh (β does nothing) and a separate prior over code indices "
            "is fitted for sampling."
        ),
    ),
    "hvae": (
        "hierarchical VAE",
        (
            "two stochastic layers (Burda et al. 2015): p(z2) p(z1|z2) p(x|z1), encoded by q(z1|x) q(z2|z1); "
            "the map shows the top layer z2, the ELBO has a KL term for each layer."
        ),
    ),
}

PRIORS = {
    "normal": (
        "standard normal N(0, I)",
        (
            "p(z) is a standard normal: every latent dimension independent, mean 0, variance 1. The KL term "
            "is in closed form."
        ),
    ),
    "mog": (
        "mixture of Gaussians",
        (
            "p(z) is a learned mixture of K Gaussians (means, scales and weights trained with the model), "
            "so the codes may gather in clusters without paying KL for it."
        ),
    ),
    "vamp": (
        "VampPrior",
        (
            "p(z) is the average of the encoder's posteriors q(z|u_k) of K learned pseudo-inputs u_k: a prior "
            "that follows the encoder, since the best prior is the average posterior of the data."
        ),
    ),
}

LIKELIHOODS = {
    "bernoulli": (
        "Bernoulli",
        (
            "p(x|z) treats each pixel as a coin flip whose probability the decoder gives; the reconstruction "
            "error is the binary cross-entropy. For black-and-white images."
        ),
    ),
    "gaussian": (
        "Gaussian",
        (
            "p(x|z) puts a Gaussian around the decoder's output, with a learned spread per pixel; the "
            "reconstruction error is a weighted squared error. For grey levels and points."
        ),
    ),
}

ARCHITECTURES = {
    "mlp": (
        "fully connected (MLP)",
        "encoder and decoder are dense layers of the hidden sizes below.",
    ),
    "conv": (
        "convolutional",
        (
            "encoder and decoder are convolutions that see neighbouring pixels together, then dense layers; images only."
        ),
    ),
    "linear": (
        "linear",
        (
            "encoder and decoder are single linear maps. With a Gaussian likelihood this is factor analysis, "
            "whose log p(x) is known exactly, so the Evaluate page can show how tight the ELBO is."
        ),
    ),
}

BETA_SCHEDULES = {
    "constant": ("constant", "β stays where you set it for the whole run."),
    "linear": (
        "linear warm-up",
        (
            "β grows from 0 to the value set over the first steps, so the decoder learns to use z before the "
            "KL term pulls q(z|x) to the prior (against posterior collapse)."
        ),
    ),
    "cyclical": (
        "cyclical",
        (
            "β rises from 0 to the value set again and again: each cycle lets the codes carry information, "
            "then squeezes them towards the prior."
        ),
    ),
}

# Tooltips of the other controls.
LR_SCHEDULES = {
    "constant": ("constant", "The learning rate stays where you set it."),
    "cosine": (
        "cosine",
        "A short linear warm-up, then half a cosine from the rate set down to 0 over the run's budget: large "
        "steps early, fine ones at the end.",
    ),
    "burda": (
        "Burda et al.",
        "Burda et al. (2015)'s steps: the rate times 10^(−i/7) for 3^i epochs, i = 0 … 7 (3,280 epochs in all).",
    ),
}

TIPS = {
    "dataset": "The data set x_1, ..., x_n the model learns to generate (2-D point sets train in seconds)",
    "family": "The kind of latent variable model: how a code z is drawn and turned into an image x",
    "prior": "The prior p(z): where codes come from when the model generates, and what the KL term pulls "
    "each q(z|x) towards",
    "likelihood": "The decoder's observation model p(x|z): how likely an image is given a code; its log is "
    "the reconstruction term of the ELBO",
    "arch": "The networks of the encoder q(z|x) and the decoder p(x|z)",
    "latent_dim": "Dimensions of the latent code z. With 2 the map shows the whole latent space; with more, "
    "it shows a plane through it",
    "hidden": "Hidden layer sizes of encoder and decoder, comma-separated: 400 is one layer of 400, 400,200 two",
    "components": "K, the number of Gaussians in the mixture prior, or of pseudo-inputs of the VampPrior",
    "codebook": "K, the number of codebook vectors a VQ-VAE chooses each code from",
    "beta": "β, the weight of the KL term: loss = reconstruction error + β·KL(q(z|x) || p(z)). Low β "
    "favours sharp reconstructions, high β codes that stay close to the prior (and dimensions that "
    "collapse). 0.01 to 100 on a log scale; changes a run live",
    "schedule": "How β is shaped over the steps of a run",
    "lr": "Adam's learning rate: the size of each optimisation step; changes a run live",
    "batch": "Images per optimisation step: the ELBO's gradient is averaged over them",
    "epochs": "Passes over the training images",
    "lr_schedule": "How the learning rate is shaped over the run: it multiplies the rate set, which stays live",
    "preset": "A recipe: settings that go together, from resources/presets; choosing one fills in every setting",
    "seed": "Seed of the initial weights, the batches and the noise ε of the reparameterisation z = μ + σ·ε",
    "device": "Where to train: auto picks a CUDA GPU when there is one",
}

# Why a control does not apply to the model as set up.
NO_PRIOR_CHOICE = "a VQ-VAE has no continuous prior p(z) to choose: its codes are codebook vectors"
NO_BETA = "a VQ-VAE has no KL term for β to weigh"
UNTIL_STOPPED = "the run goes on until you stop it"
ONLY_MIXTURES = "only the mixture of Gaussians and the VampPrior have K components"
ONLY_VQVAE = "only a VQ-VAE has a codebook"
