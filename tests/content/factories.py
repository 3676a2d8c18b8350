from __future__ import annotations

import factory

from leadloop.content.models import ContentKind, ContentOffer


class ContentOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentOffer
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Guide {n}")
    slug = factory.Sequence(lambda n: f"guide-{n}")
    kind = ContentKind.EBOOK
