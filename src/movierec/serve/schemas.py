"""Request and response bodies of the HTTP API (pydantic): constraints here become 422s naming the field."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

MAX_N = 100
MAX_RATINGS = 2000  # ratings in one fold-in request or profile update

# The widest MovieLens scale; a model trained on ml-100k (1..5) narrows it at request time.
Stars = Annotated[
    float,
    Field(ge=0.5, le=5.0, multiple_of=0.5, allow_inf_nan=False, description="Stars, 0.5 to 5 in half stars."),
]
MovieId = Annotated[int, Field(ge=1, le=2**53, description="A MovieLens movie id.")]
Year = Annotated[int, Field(ge=1800, le=2200)]
EXPLORE_DESCRIPTION = (
    "From 0 (the most likely movies first) to 1 (re-ranked towards less-known movies); "
    "leave it out for the model's default."
)




class Movie(BaseModel):
    movie_id: int
    title: str
    year: int | None = None
    genres: list[str] = []


class MovieDetails(Movie):
    n_ratings: int = Field(description="Ratings of this movie in the training data.")
    mean_rating: float | None = Field(description="Their mean; null when nobody rated it.")


class SearchPage(BaseModel):
    query: str
    limit: int
    offset: int
    results: list[Movie]
    suggestions: list[Movie] = Field(
        [], description="Did you mean: the closest titles when nothing matches the query (a typo), as the CLI suggests."
    )


class Because(BaseModel):
    movie_id: int
    title: str
    rating: float = Field(description="The user's own rating of this movie.")


class Recommendation(Movie):
    score: float = Field(description="Ranking score (higher is better).")
    predicted_rating: float | None = Field(description="Predicted stars, when a rating model is loaded.")
    because: list[Because] = Field(description="The user's rated movies closest to this one.")


class Recommendations(BaseModel):
    recommendations: list[Recommendation]


class SimilarMovie(Movie):
    similarity: float


class Similar(BaseModel):
    movie: Movie
    similar: list[SimilarMovie]


class Rating(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"movie_id": 2571, "rating": 4.5}]})
    movie_id: MovieId
    rating: Stars


class RatingValue(BaseModel):
    rating: Stars


class Filters(BaseModel):
    """The filters of the CLI's recommendations: genres (a movie must have all), a year range,
    and how far to explore. Query parameters of the GET routes, fields of the POST bodies."""

    n: int = Field(10, ge=1, le=MAX_N, description="How many recommendations.")
    genres: list[Annotated[str, Field(max_length=64)]] = Field(
        [], max_length=32, description="Keep movies having all of these genres (in a query: repeat the parameter)."
    )
    year_from: Year | None = Field(None, description="Oldest release year kept.")
    year_to: Year | None = Field(None, description="Newest release year kept.")
    explore: float | None = Field(None, ge=0, le=1, allow_inf_nan=False, description=EXPLORE_DESCRIPTION)

    @model_validator(mode="after")
    def _years_in_order(self) -> "Filters":
        # A range that keeps nothing is a mistake, not an empty answer (the CLI says so too).
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise PydanticCustomError(
                "year_range", "year_from {year_from} is after year_to {year_to}: swap them",
                {"year_from": self.year_from, "year_to": self.year_to},
            )
        return self

    def options(self) -> dict:
        """Keyword arguments of ``Recommender.recommend``: explore only when given."""
        options = self.model_dump(include={"n", "genres", "year_from", "year_to", "explore"})
        options["genres"] = tuple(options["genres"])  # hashable: options are cache keys
        if options["explore"] is None:
            del options["explore"]
        return options


class FoldInRequest(Filters):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ratings": [{"movie_id": 1, "rating": 5}, {"movie_id": 2571, "rating": 4.5}]}]}
    )
    ratings: list[Rating] = Field(min_length=1, max_length=MAX_RATINGS, description="Your ratings; no profile needed.")


class RatedMovie(Movie):
    rating: float
    timestamp: int


class Profile(BaseModel):
    profile_id: str = Field(description="Secret: whoever knows it can read and change the profile.")
    ratings: list[RatedMovie]


class ClusterMember(BaseModel):
    movie_id: int
    title: str
    x: float = Field(description="Map coordinates (see the report's layout).")
    y: float


class GenreShare(BaseModel):
    genre: str
    share: float = Field(description="Share of the cluster's members with this genre.")
    lift: float | None = Field(None, description="That share over the same share among all clustered movies.")


class Cluster(BaseModel):
    label: int = Field(description="0 is the largest cluster.")
    size: int
    name: str = Field(description='Its most characteristic genres, or "Mixed: ..." when no genre set fits.')
    name_genres: list[str] = Field([], description="The genres the name claims; empty when mixed.")
    name_support: float | None = Field(None, description="Share of members having every genre of the name.")
    name_lift: float | None = Field(None, description="name_support over the same share among all clustered movies.")
    mixed: bool | None = Field(None, description="Whether no genre set names the cluster.")
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$", description="Its colour on the map (as in the PNG).")
    top_genres: list[GenreShare]
    top_titles: list[str]
    mean_rating: float | None
    members: list[ClusterMember]


class Score(BaseModel):
    value: float
    random_mean: float = Field(description="The same score for random clusterings of the same sizes.")
    random_std: float
    z: float


class Clusters(BaseModel):
    k: int
    min_ratings: int
    seed: int
    n_movies: int
    n_random: int
    layout: str | None = Field(None, description='How the map coordinates were made: "tsne" or "pca".')
    min_support: float | None = Field(None, description="The support a genre name needs, else the cluster is mixed.")
    min_lift: float | None = None
    purity: Score
    nmi: Score
    clusters: list[Cluster]


class Health(BaseModel):
    status: str
    model: str = Field(description="The model(s) loaded.")
    dataset: str
    fingerprint: str = Field(description="Content hash of the training data.")
    users: int
    movies: int
    ratings: int
    profiles: int
    profile_ratings: int
    genres: list[str]
    rating_scale: list[float] = Field(min_length=2, max_length=2, description="Lowest and highest stars.")
    explore: float = Field(description="The default of the recommendations' `explore` control (0 to 1).")
