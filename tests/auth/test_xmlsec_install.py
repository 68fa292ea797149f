"""The XML signature stack works as installed: a broken lxml/xmlsec pair fails here, not at login."""

from __future__ import annotations

from importlib.metadata import version

import pytest
import xmlsec
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth

from dnp.auth.saml import sp as saml
from dnp.auth.saml.metadata import IdpInfo
from tests.auth import saml_idp


def test_pinned_versions_share_one_libxml2():
    assert (version("python3-saml"), version("lxml"), version("xmlsec")) == ("1.16.0", "6.1.3", "1.3.17")
    # xmlsec refuses to import when the two wheels carry different libxml2 builds; check the pair anyway.
    assert xmlsec.get_libxml_version()[:2] == etree.LIBXML_VERSION[:2]


def test_xmlsec_signs_and_verifies():
    key, cert = saml_idp.keypair("install-check")
    doc = etree.fromstring(b'<root ID="_x"><data>hej</data></root>')
    signature = xmlsec.template.create(
        doc, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256, ns="ds"
    )
    doc.append(signature)
    reference = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha256, uri="#_x")
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.tree.add_ids(doc, ["ID"])
    signer = xmlsec.SignatureContext()
    signer.key = xmlsec.Key.from_memory(key.encode(), xmlsec.constants.KeyDataFormatPem)
    signer.sign(signature)

    def verify(document):
        xmlsec.tree.add_ids(document, ["ID"])
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_memory(cert.encode(), xmlsec.constants.KeyDataFormatCertPem)
        context.verify(document.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))

    verify(etree.fromstring(etree.tostring(doc)))
    with pytest.raises(xmlsec.Error):
        verify(etree.fromstring(etree.tostring(doc).replace(b"hej", b"hopp")))


def test_python3_saml_validates_a_signed_response_and_rejects_a_forged_one():
    sp = saml.SpConfig(base_url=saml_idp.BASE_URL, entity_id=saml_idp.SP_ENTITY)
    idp = IdpInfo(
        saml_idp.IDP_ENTITY,
        saml_idp.SSO_URL,
        None,
        None,
        (saml_idp.cert_body(saml_idp.keypair("idp")[1]),),
        frozenset({saml_idp.SCOPE}),
        None,
    )

    def process(xml):
        data = saml.request_data(sp, "/saml/acs", post={"SAMLResponse": saml_idp.b64(xml)})
        auth = OneLogin_Saml2_Auth(data, old_settings=saml.settings(sp, idp))
        auth.process_response(request_id="_req1")
        return auth

    good = process(saml_idp.make_response("_req1"))
    assert good.is_authenticated(), good.get_last_error_reason()
    assert good.get_attribute(saml_idp.EPPN_OID) == ["anna.andersson@" + saml_idp.SCOPE]
    forged = process(saml_idp.make_response("_req1", signer="evil"))
    assert not forged.is_authenticated()
